"""Helpers of the distributed tests: fast buses, agent processes, waiting on conditions.

A module with a unique name (not ``conftest``), so test modules can import it
whatever else pytest has loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.live_registry import LiveRegistry

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: Generous bounds for a loaded 2-core machine; waits end as soon as their condition holds.
STARTUP = 60.0
WAIT = 30.0


def fast_bus(url: str, namespace: str, **kwargs: object) -> MqttBus:
    """A bus that reconnects quickly (tests restart brokers)."""
    return MqttBus(
        url,
        namespace=namespace,
        backoff_initial=0.02,
        backoff_max=0.5,
        **kwargs,  # type: ignore[arg-type]
    )


def cut_connection(bus: MqttBus) -> None:
    """Shut the client's TCP connection without an MQTT DISCONNECT: the broker sees a crash
    (and publishes the bus's Will), the bus reconnects."""
    assert bus._conn is not None
    sock = bus._conn.client.socket()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)


def hold_reconnects(bus: MqttBus, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Keep ``bus`` from reconnecting until the returned event is set: an outage of its own."""
    connect, outage_over = bus._connect, asyncio.Event()

    async def held() -> Any:
        await outage_over.wait()
        return await connect()

    monkeypatch.setattr(bus, "_connect", held)
    return outage_over


async def wait_until(predicate: Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
    """Poll a condition the bus cannot signal (a file written by another process)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


class AgentProcesses:
    """``weft agent serve`` children of one test."""

    def __init__(self, url: str, namespace: str, folder: Path) -> None:
        self.url = url
        self.namespace = namespace
        self.folder = folder
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, *targets: str, args: tuple[str, ...] = ()) -> asyncio.subprocess.Process:
        log = (self.folder / f"agent-{len(self.procs)}.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "weft", "agent", "serve", *targets,
            "--path", str(HERE), "--broker", self.url, "--namespace", self.namespace,
            "--heartbeat", "0.5", *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT,
        )  # fmt: skip
        log.close()
        self.procs.append(proc)
        return proc

    def output(self, proc: asyncio.subprocess.Process) -> str:
        index = self.procs.index(proc)
        return (self.folder / f"agent-{index}.log").read_text(errors="replace")

    async def close(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGKILL)
                await proc.wait()


async def agent_of(registry: LiveRegistry, proc: asyncio.subprocess.Process) -> str:
    """Wait until the process's card is registered; its agent id."""

    def found() -> bool:
        return any(a.card.pid == proc.pid for a in registry.agents())

    def ended() -> bool:  # e.g. it could not import weft: no card will ever come
        return proc.returncode is not None

    if not await registry.wait_until(lambda: found() or ended(), STARTUP) or not found():
        if ended():
            raise AssertionError(
                f"agent process {proc.pid} exited with {proc.returncode} before publishing "
                "its card (its output: agent-N.log in the test's tmp_path)"
            )
        raise AssertionError(f"agent process {proc.pid} never published its card")
    return next(a.agent_id for a in registry.agents() if a.card.pid == proc.pid)
