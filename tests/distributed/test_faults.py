"""Faults: a worker killed mid-call, a broker restart mid-run, an agent with no replica.

Each call of ``effect`` writes ``start`` and ``done`` lines to a shared log;
``done`` is the effect, which must happen exactly once per call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from distributed_agents import events
from distributed_support import ROOT, STARTUP, AgentProcesses, agent_of, fast_bus, wait_until

import weft
from weft.protocols import ActionCall, ActionSpec
from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.remote.call_client import CallClient
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.remote.remote_action import RemoteAction


def effect_workflow(timeout: float) -> weft.Workflow:
    wf = weft.Workflow("effects")
    wf.input("keys", type="array")
    wf.input("log", type="string")
    wf.input("gate", type="string", default="")
    wf.node(
        "fx",
        "effect",
        foreach="${inputs.keys}",
        with_={"key": "${item}", "log": "${inputs.log}", "gate": "${inputs.gate}"},
        timeout=timeout,
    )
    return wf


def starts(log: Path) -> dict[str, int]:
    return {key: pid for event, key, pid in events(log) if event == "start"}


def done(log: Path) -> list[tuple[str, int]]:
    return [(key, pid) for event, key, pid in events(log) if event == "done"]


async def test_killing_a_worker_mid_call_lets_its_replica_finish_each_call_once(
    agent_procs: AgentProcesses,
    caller: LiveRegistry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="weft.runtime.remote.remote_action")
    log, gate = tmp_path / "effects.log", tmp_path / "gate"
    victim = await agent_procs.start("distributed_agents:effect")
    survivor = await agent_procs.start("distributed_agents:effect")
    victim_id = await agent_of(caller, victim)
    await agent_of(caller, survivor)
    keys = [f"k{i}" for i in range(6)]
    run = asyncio.create_task(
        weft.run_workflow(
            effect_workflow(timeout=120),
            {"keys": keys, "log": str(log), "gate": str(gate)},
            actions=caller.actions(["effect"]),
        )
    )
    await wait_until(lambda: set(starts(log)) == set(keys), what="every call to start")
    held_by_victim = {k for k, pid in starts(log).items() if pid == victim.pid}
    assert held_by_victim and len(held_by_victim) < len(keys), "the pool did not share the calls"

    victim.send_signal(signal.SIGKILL)
    await victim.wait()
    gate.touch()
    result = await asyncio.wait_for(run, 90)

    assert result.ok, result.error
    assert sorted(key for key, _ in done(log)) == sorted(keys)  # each effect exactly once
    assert {pid for _, pid in done(log)} == {survivor.pid}
    assert sorted(o["key"] for o in result.outputs["fx"]) == sorted(keys)
    # One warning for the lost agent, not one per call it held (a foreach of
    # thousands wrote thousands of lines); each re-send is still logged, at debug.
    resent = [r for r in caplog.records if "re-sending as attempt" in r.getMessage()]
    assert [r.levelno for r in resent].count(logging.WARNING) == 1
    assert len(resent) == len(held_by_victim)
    said = next(r.getMessage() for r in resent if r.levelno == logging.WARNING)
    assert f"agent '{victim_id}' vanished (its card was cleared) while holding the call; " in said


async def test_a_broker_restart_mid_run_does_not_stop_the_run(
    weft_broker: MosquittoBroker, ns: str, tmp_path: Path
) -> None:
    log, gate = tmp_path / "effects.log", tmp_path / "gate"
    agents = AgentProcesses(weft_broker.url, ns, tmp_path)
    try:
        first = await agents.start("distributed_agents:effect")
        second = await agents.start("distributed_agents:effect")
        async with fast_bus(weft_broker.url, ns) as bus, LiveRegistry(bus) as registry:
            await agent_of(registry, first)
            await agent_of(registry, second)
            keys = [f"k{i}" for i in range(4)]
            run = asyncio.create_task(
                weft.run_workflow(
                    effect_workflow(timeout=120),
                    {"keys": keys, "log": str(log), "gate": str(gate)},
                    actions=registry.actions(["effect"]),
                )
            )
            await wait_until(lambda: set(starts(log)) == set(keys), what="every call to start")
            reconnects = bus.reconnects
            await weft_broker.restart()
            await bus.wait_connected(STARTUP)
            assert bus.reconnects > reconnects

            def both_back() -> bool:
                return {a.card.pid for a in registry.agents()} == {first.pid, second.pid}

            assert await registry.wait_until(both_back, STARTUP), "agents did not come back"
            gate.touch()
            result = await asyncio.wait_for(run, 90)
    finally:
        await agents.close()
    assert result.ok, result.error
    assert sorted(key for key, _ in done(log)) == sorted(keys)  # no call ran twice


async def _cli(*args: str) -> tuple[int, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weft", *args, "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert out, err.decode()
    return proc.returncode or 0, json.loads(out)


async def test_an_agent_without_replica_fails_its_node_at_the_deadline_then_resume_finishes(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    log, gate = tmp_path / "effects.log", tmp_path / "gate"
    workflow = tmp_path / "effects.yaml"
    workflow.write_text(
        "name: effects\n"
        "inputs: {log: {type: string}, gate: {type: string}}\n"
        "nodes:\n"
        "  fx:\n"
        "    action: effect\n"
        "    with: {key: k0, log: '${inputs.log}', gate: '${inputs.gate}'}\n"
        "    timeout: 8\n"
    )
    (tmp_path / "inputs.json").write_text(json.dumps({"log": str(log), "gate": str(gate)}))
    remote = ["--broker", agent_procs.url, "--namespace", agent_procs.namespace]
    journal = ["--journal", str(tmp_path / "journal.db")]
    lonely = await agent_procs.start("distributed_agents:effect")
    agent = await agent_of(caller, lonely)

    run = asyncio.create_task(
        _cli("run", str(workflow), "--input-file", str(tmp_path / "inputs.json"), *remote, *journal)
    )
    await wait_until(lambda: bool(starts(log)), timeout=STARTUP, what="the call to start")
    lonely.send_signal(signal.SIGKILL)
    await lonely.wait()
    code, failed = await run

    assert code == 1 and failed["state"] == "failed"
    error = failed["nodes"]["fx"]["error"]
    assert error["type"] == "RemoteTimeout"
    assert f"agent '{agent}' vanished while serving the call" in error["message"]
    assert "deadline (8s)" in error["message"]

    back = await agent_procs.start("distributed_agents:effect")
    await agent_of(caller, back)
    gate.touch()
    code, resumed = await _cli("resume", failed["run_id"], *remote, *journal)
    assert code == 0 and resumed["state"] == "succeeded", resumed
    assert resumed["outputs"]["fx"]["pid"] == back.pid
    assert done(log) == [("k0", back.pid)]


async def test_the_deadline_error_names_the_budget_the_call_was_given(
    caller: LiveRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not what was left of it once the first call had subscribed to its replies: on a
    loaded machine that round trip made a node's 8 s read "7.99s" (a CI failure)."""
    start = CallClient.start

    async def slow_start(self: CallClient) -> None:
        await asyncio.sleep(0.2)  # a slow SUBACK
        await start(self)

    monkeypatch.setattr(CallClient, "start", slow_start)
    action = RemoteAction(caller.bus, ActionSpec(name="nobody"), registry=caller)
    call = ActionCall(action="nobody", arguments={}, deadline=time.time() + 1)
    result = await action.invoke(call)
    assert result.error is not None and result.error.type == "RemoteTimeout"
    assert "no result before the call deadline (1s)" in result.error.message
