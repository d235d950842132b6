"""An agent restarted under the same ``--agent-id``: a new incarnation, alive, taking calls.

A service manager restarts an agent with a fixed id (a broker user name, a
pod name): the same agent id, a new process. The calls the old process held
are lost with it, so they are re-sent (attempt + 1, same idempotency key);
the new process is a live agent like any other, so they may go to it, and
so do later calls. The old process is told apart from the new one by its
card's ``started_at`` (its incarnation), not by its id.

``ledger`` holds each call until the gate file exists.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

import pytest
from distributed_agents import ledger_lines
from distributed_support import WAIT, AgentProcesses, agent_of, wait_until

from weft.protocols import ActionCall
from weft.runtime.remote.live_registry import LiveRegistry

FIXED = "ledger-fixed"
ARGS = ("--agent-id", FIXED, "--drain-timeout", "0.5")


def starts(log: Path) -> list[tuple[int, int, str]]:
    """``(pid, attempt, idempotency key)`` of each start, in order."""
    return [
        (pid, attempt, idem)
        for event, _k, pid, attempt, idem in ledger_lines(log)
        if event == "start"
    ]


def waiting_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return any("waiting for a replica of 'ledger'" in r.getMessage() for r in caplog.records)


def ledger_call(key: str, log: Path, gate: Path, deadline: float) -> ActionCall:
    return ActionCall(
        action="ledger",
        arguments={"key": key, "log": str(log), "gate": str(gate)},
        deadline=time.time() + deadline,
        idempotency_key=f"idem-{key}",
    )


async def restarted(
    agent_procs: AgentProcesses, caller: LiveRegistry, old: asyncio.subprocess.Process
) -> asyncio.subprocess.Process:
    """The same agent id in a new process, once its card is read."""
    new = await agent_procs.start("distributed_agents:ledger", args=ARGS)
    assert await agent_of(caller, new) == FIXED
    assert new.pid != old.pid
    return new


async def test_a_call_given_up_by_a_stopped_agent_goes_to_its_restart_under_the_same_id(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    old = await agent_procs.start("distributed_agents:ledger", args=ARGS)
    assert await agent_of(caller, old) == FIXED
    remote = caller.remote("ledger")
    pending = asyncio.create_task(remote.invoke(ledger_call("k", log, gate, 60)))
    await wait_until(lambda: bool(starts(log)), what="the call to start")

    old.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(old.wait(), WAIT) == 0  # it gave the call back
    new = await restarted(agent_procs, caller, old)
    await wait_until(lambda: len(starts(log)) == 2 or pending.done(), what="the call to move")
    gate.touch()
    result = await asyncio.wait_for(pending, WAIT)

    assert result.ok, result.error
    assert result.output == {"key": "k", "pid": new.pid}
    assert result.agent == FIXED and result.attempts == 2
    assert starts(log) == [(old.pid, 1, "idem-k"), (new.pid, 2, "idem-k")]
    # And it takes new calls as any live agent does.
    later = await asyncio.wait_for(remote.invoke(ledger_call("k2", log, gate, 30)), WAIT)
    assert later.ok and later.output == {"key": "k2", "pid": new.pid}, later


async def test_a_call_held_by_a_killed_agent_goes_to_its_restart_under_the_same_id(
    agent_procs: AgentProcesses,
    caller: LiveRegistry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="weft.runtime.remote.remote_action")
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    old = await agent_procs.start("distributed_agents:ledger", args=ARGS)
    assert await agent_of(caller, old) == FIXED
    pending = asyncio.create_task(caller.remote("ledger").invoke(ledger_call("k", log, gate, 60)))
    await wait_until(lambda: bool(starts(log)), what="the call to start")

    old.send_signal(signal.SIGKILL)
    await old.wait()
    # The restart comes after the caller gave the dead process up: the call waits.
    await wait_until(lambda: waiting_logged(caplog), what="the call to wait for a replica")
    new = await restarted(agent_procs, caller, old)
    await wait_until(lambda: len(starts(log)) == 2 or pending.done(), what="the call to move")
    gate.touch()
    result = await asyncio.wait_for(pending, WAIT)

    assert result.ok, result.error
    assert result.output == {"key": "k", "pid": new.pid} and result.agent == FIXED
    assert result.attempts == 2
    assert starts(log) == [(old.pid, 1, "idem-k"), (new.pid, 2, "idem-k")]


async def test_a_frozen_agent_replaced_under_the_same_id_loses_its_call_to_the_new_one(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    old = await agent_procs.start("distributed_agents:ledger", args=ARGS)
    assert await agent_of(caller, old) == FIXED
    pending = asyncio.create_task(caller.remote("ledger").invoke(ledger_call("k", log, gate, 60)))
    await wait_until(lambda: bool(starts(log)), what="the call to start")

    # A supervisor replaces a hung process without waiting for it to die: the broker
    # hands the id's connection to the new process, whose card replaces the old one.
    old.send_signal(signal.SIGSTOP)
    new = await restarted(agent_procs, caller, old)
    old.send_signal(signal.SIGKILL)
    await wait_until(lambda: len(starts(log)) == 2 or pending.done(), what="the call to move")
    gate.touch()
    result = await asyncio.wait_for(pending, WAIT)

    assert result.ok, result.error
    assert result.output == {"key": "k", "pid": new.pid} and result.attempts == 2
    assert starts(log) == [(old.pid, 1, "idem-k"), (new.pid, 2, "idem-k")]
