"""A rolling restart: an agent stopped (SIGTERM) hands the calls it gives up to a replica.

``weft agent serve --drain-timeout S`` finishes what it holds for ``S``
seconds, then gives up the rest. Those calls must move to another replica of
the action, exactly as when the agent is killed (``test_faults.py``): the run
succeeds there, the trace shows both agents, the node counts two attempts,
and the action sees the same idempotency key on both. With no replica left,
the call ends with a retryable error naming the stopped agent, never a
silent ``cancelled``.

``ledger`` holds each call until the gate file exists, so the stopped agent
surely gives its calls up at the drain timeout.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from distributed_agents import ledger_lines
from distributed_support import WAIT, AgentProcesses, agent_of, wait_until

import weft
from weft.protocols import ActionCall, ActionState
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.tracing.spans import MemoryTracer

#: Seconds the stopped agent lets its calls run before it gives them up.
DRAIN = ("--drain-timeout", "0.5")


def started(log: Path) -> dict[str, list[tuple[int, int, str]]]:
    """key -> ``(pid, attempt, idempotency key)`` of each start, in order."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    for event, key, pid, attempt, idem in ledger_lines(log):
        if event == "start":
            out.setdefault(key, []).append((pid, attempt, idem))
    return out


def finished(log: Path) -> list[tuple[str, int]]:
    return [(key, pid) for event, key, pid, _a, _i in ledger_lines(log) if event == "done"]


async def test_a_stopped_agent_hands_its_call_to_a_replica_as_a_killed_one_does(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    first = await agent_procs.start("distributed_agents:ledger", args=DRAIN)
    second = await agent_procs.start("distributed_agents:ledger", args=DRAIN)
    agents = {first.pid: await agent_of(caller, first), second.pid: await agent_of(caller, second)}
    wf = weft.Workflow("drain")
    wf.node("fx", "ledger", with_={"key": "k", "log": str(log), "gate": str(gate)}, timeout=120)
    tracer = MemoryTracer()
    run = asyncio.create_task(weft.run_workflow(wf, actions=caller.actions(), tracer=tracer))
    await wait_until(lambda: bool(started(log)), what="the call to start")
    [(held_pid, _, _)] = started(log)["k"]
    stopped = first if held_pid == first.pid else second
    survivor = second if stopped is first else first

    stopped.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(stopped.wait(), WAIT) == 0
    # Or the run ended: it did, cancelled, before stopped agents handed their calls on.
    await wait_until(lambda: len(started(log)["k"]) == 2 or run.done(), what="the call to move")
    gate.touch()
    result = await asyncio.wait_for(run, WAIT)

    assert result.ok, result.error
    assert result.outputs["fx"]["pid"] == survivor.pid
    assert result.nodes["fx"].attempts == 2
    # The same work on both attempts: the action keys its side effects by it.
    assert started(log)["k"] == [
        (stopped.pid, 1, f"{result.run_id}:fx"),
        (survivor.pid, 2, f"{result.run_id}:fx"),
    ]
    assert finished(log) == [("k", survivor.pid)]  # the stopped agent did not finish it
    (node,) = tracer.by_kind("node")
    assert node.attributes["weft.attempts"] == 2 and node.agent == agents[survivor.pid]
    (lost,) = [s for s in tracer.by_kind("call") if s.attributes.get("weft.side") == "caller"]
    assert lost.parent_id == node.span_id and lost.agent == agents[stopped.pid]
    assert lost.status == "error" and lost.attributes["weft.attempt"] == 1
    assert lost.attributes["error"]["type"] == "AgentLost"
    assert agents[stopped.pid] in lost.attributes["error"]["message"]
    assert "drain timeout" in lost.attributes["error"]["message"]
    (served,) = [s for s in tracer.by_kind("call") if s.attributes.get("weft.side") == "agent"]
    assert served.agent == agents[survivor.pid] and served.attributes["weft.attempt"] == 2


async def test_a_rolling_restart_moves_every_call_the_stopped_agent_held(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    # Two slots each and six calls: each agent runs two and queues one.
    args = (*DRAIN, "--concurrency", "2")
    stopped = await agent_procs.start("distributed_agents:ledger", args=args)
    survivor = await agent_procs.start("distributed_agents:ledger", args=args)
    await agent_of(caller, stopped)
    await agent_of(caller, survivor)
    keys = [f"k{i}" for i in range(6)]
    wf = weft.Workflow("drain")
    wf.input("keys", type="array")
    wf.node(
        "fx",
        "ledger",
        foreach="${inputs.keys}",
        with_={"key": "${item}", "log": str(log), "gate": str(gate)},
        timeout=120,
    )
    run = asyncio.create_task(
        weft.run_workflow(wf, {"keys": keys}, actions=caller.actions(["ledger"]))
    )
    await wait_until(lambda: len(started(log)) == 4, what="every slot to be busy")
    ran_there = {k for k, starts in started(log).items() if starts[0][0] == stopped.pid}
    assert len(ran_there) == 2, started(log)

    stopped.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(stopped.wait(), WAIT) == 0  # it answered what it gave up
    gate.touch()
    result = await asyncio.wait_for(run, WAIT)

    assert result.ok, result.error
    assert sorted(key for key, _ in finished(log)) == sorted(keys)  # each effect once
    assert {pid for _, pid in finished(log)} == {survivor.pid}
    moved = {k for k, starts in started(log).items() if starts[-1][1] == 2}
    # Its two running calls and the one waiting in its queue, which never started there.
    assert len(moved) == 3 and ran_there < moved, started(log)
    for index, key in enumerate(keys):
        assert {idem for _, _, idem in started(log)[key]} == {f"{result.run_id}:fx[{index}]"}
    assert [o["pid"] for o in result.outputs["fx"]] == [survivor.pid] * len(keys)


async def test_a_call_given_up_with_no_replica_left_fails_naming_the_stopped_agent(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    lonely = await agent_procs.start("distributed_agents:ledger", args=DRAIN)
    agent = await agent_of(caller, lonely)
    call = ActionCall(
        action="ledger",
        arguments={"key": "k", "log": str(log), "gate": str(gate)},
        deadline=time.time() + 10,
    )
    pending = asyncio.create_task(caller.remote("ledger").invoke(call))
    await wait_until(lambda: bool(started(log)), what="the call to start")
    lonely.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(lonely.wait(), WAIT) == 0
    result = await asyncio.wait_for(pending, WAIT)

    assert result.state is not ActionState.CANCELLED
    assert result.error is not None and result.error.retryable, result
    assert result.error.type == "RemoteTimeout"
    assert f"agent '{agent}' was stopped" in result.error.message
    assert "no other live agent serves 'ledger'" in result.error.message
    assert finished(log) == []
