"""Calls run once under load; only a dead or frozen replica's calls may run again.

Four (or two) ``weft agent serve`` processes serve ``ledger``, which appends
a ``start`` and a ``done`` line per run, with its pid, attempt and
idempotency key, to one shared log: the effects counted here. The caller is
``RemoteAction`` under ``weft.run_workflow``, as in ``weft run --broker``.
Its ack window is made tiny (0.05 s instead of 5 s): under the old rule
(re-send to the pool when the ack is late) a third of these calls ran twice.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

from distributed_agents import ledger_lines
from distributed_support import STARTUP, AgentProcesses, agent_of, fast_bus, wait_until

import weft
from weft.runtime.remote.live_registry import LiveRegistry

#: The ack window of these tests' callers: far below how late a loaded agent's ack is.
ACK_WINDOW = 0.05


def ledger_workflow(delay: float, gate: str = "") -> weft.Workflow:
    wf = weft.Workflow("ledger")
    wf.input("keys", type="array")
    wf.input("log", type="string")
    wf.node(
        "fx",
        "ledger",
        foreach="${inputs.keys}",
        with_={"key": "${item}", "log": "${inputs.log}", "delay": delay, "gate": gate},
        timeout=180,
    )
    return wf


def runs(log: Path, event: str) -> Counter[str]:
    """How many times each key had ``event`` (``start`` or ``done``)."""
    return Counter(key for ev, key, *_ in ledger_lines(log) if ev == event)


def by_pid(log: Path, event: str, pid: int) -> set[str]:
    return {key for ev, key, p, *_ in ledger_lines(log) if ev == event and p == pid}


async def test_four_loaded_replicas_run_each_of_600_calls_exactly_once(
    agent_procs: AgentProcesses, broker_url: str, ns: str, tmp_path: Path
) -> None:
    log = tmp_path / "ledger.log"
    procs = [
        await agent_procs.start("distributed_agents:ledger", args=("--concurrency", "8"))
        for _ in range(4)
    ]
    keys = [f"k{i}" for i in range(600)]
    async with (
        fast_bus(broker_url, ns) as bus,
        LiveRegistry(bus, ack_timeout=ACK_WINDOW) as registry,
    ):
        for proc in procs:
            await agent_of(registry, proc)
        result = await weft.run_workflow(
            ledger_workflow(delay=0.02),
            {"keys": keys, "log": str(log)},
            actions=registry.actions(["ledger"]),
        )

    assert result.ok, result.error
    assert runs(log, "start") == Counter(keys)  # nothing lost, nothing run twice
    assert runs(log, "done") == Counter(keys)
    assert all(by_pid(log, "done", p.pid) for p in procs), "every replica took calls"
    idem = {key: k for ev, key, _pid, _attempt, k in ledger_lines(log) if ev == "done"}
    assert idem == {key: f"{result.run_id}:fx[{i}]" for i, key in enumerate(keys)}


async def test_killing_a_replica_mid_run_repeats_only_the_calls_it_held(
    agent_procs: AgentProcesses, broker_url: str, ns: str, tmp_path: Path
) -> None:
    log = tmp_path / "ledger.log"
    concurrency = 4
    args = ("--concurrency", str(concurrency))
    victim, *others = [
        await agent_procs.start("distributed_agents:ledger", args=args) for _ in range(3)
    ]
    keys = [f"k{i}" for i in range(240)]
    async with (
        fast_bus(broker_url, ns) as bus,
        LiveRegistry(bus, ack_timeout=ACK_WINDOW) as registry,
    ):
        for proc in (victim, *others):
            await agent_of(registry, proc)
        run = asyncio.create_task(
            weft.run_workflow(
                ledger_workflow(delay=0.1),
                {"keys": keys, "log": str(log)},
                actions=registry.actions(["ledger"]),
            )
        )
        await wait_until(
            lambda: len(by_pid(log, "done", victim.pid)) >= 2 * concurrency,
            timeout=STARTUP,
            what="the victim to finish some calls",
        )
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        result = await asyncio.wait_for(run, 180)

    assert result.ok, result.error
    started_there = by_pid(log, "start", victim.pid)
    again = {key for key, n in runs(log, "start").items() if n > 1}
    assert set(runs(log, "done")) == set(keys)  # every call completed
    assert again <= started_there, "only calls the dead replica held ran again"
    assert len(again) <= 2 * concurrency, again  # those in flight there, not its whole share
    repeated_attempts = {a for ev, key, _p, a, _k in ledger_lines(log) if key in again}
    assert repeated_attempts == ({1, 2} if again else set())
    outputs = {o["key"]: o["pid"] for o in result.outputs["fx"]}
    assert victim.pid not in {outputs[key] for key in again}


async def test_a_frozen_replica_loses_its_calls_and_its_late_results_are_ignored(
    agent_procs: AgentProcesses, broker_url: str, ns: str, tmp_path: Path
) -> None:
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    args = ("--concurrency", "6")  # room for the other replica's calls too
    frozen = await agent_procs.start("distributed_agents:ledger", args=args)
    thawed_later = await agent_procs.start("distributed_agents:ledger", args=args)
    keys = [f"k{i}" for i in range(6)]
    async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus) as registry:
        frozen_id = await agent_of(registry, frozen)
        await agent_of(registry, thawed_later)
        run = asyncio.create_task(
            weft.run_workflow(
                ledger_workflow(delay=0, gate=str(gate)),
                {"keys": keys, "log": str(log)},
                actions=registry.actions(["ledger"]),
            )
        )
        await wait_until(lambda: set(runs(log, "start")) == set(keys), what="every call to start")
        held = by_pid(log, "start", frozen.pid)
        assert held and held != set(keys), "the calls were spread over both replicas"

        frozen.send_signal(signal.SIGSTOP)  # no heartbeat, no report, no reply
        await wait_until(
            lambda: held <= by_pid(log, "start", thawed_later.pid),
            timeout=STARTUP,
            what="the frozen replica's calls to move",
        )
        frozen.send_signal(signal.SIGCONT)

        def fresh_again() -> bool:
            info = registry.get(frozen_id)
            return info is not None and info.fresh()

        assert await registry.wait_until(fresh_again, STARTUP), "the thawed agent did not beat"
        gate.touch()  # both may finish the moved calls now: the caller takes the new holder's
        result = await asyncio.wait_for(run, 90)

    assert result.ok, result.error
    outputs = {o["key"]: o["pid"] for o in result.outputs["fx"]}
    assert {outputs[key] for key in held} == {thawed_later.pid}
    moved = [(key, a) for ev, key, p, a, _ in ledger_lines(log) if ev == "start" and key in held]
    assert sorted(moved) == sorted([(key, 1) for key in held] + [(key, 2) for key in held])
    assert runs(log, "done").keys() == set(keys)
