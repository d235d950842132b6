"""`weft agent serve` processes: presence, Will, SIGTERM drain, `weft agents`, garbage."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from distributed_agents import events
from distributed_support import ROOT, WAIT, AgentProcesses, agent_of, fast_bus, wait_until

from weft.protocols import ActionCall, AgentStatus, DeadLetter, MessageProperties
from weft.runtime.remote.live_registry import LiveRegistry


async def test_an_agent_process_publishes_its_card(
    agent_procs: AgentProcesses, caller: LiveRegistry
) -> None:
    proc = await agent_procs.start("distributed_agents:shout", args=("--concurrency", "3"))
    agent = await agent_of(caller, proc)
    info = caller.get(agent)
    assert info is not None
    assert [s.name for s in info.card.actions] == ["shout"]
    assert info.card.pools == {"shout": "shout"}
    assert info.card.load.capacity == 3
    assert agent.startswith("shout-")


async def test_the_card_disappears_when_the_agent_is_killed(
    agent_procs: AgentProcesses, caller: LiveRegistry, broker_url: str, ns: str
) -> None:
    proc = await agent_procs.start("distributed_agents:shout")
    agent = await agent_of(caller, proc)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    assert await caller.wait_until(lambda: caller.get(agent) is None, WAIT), "Will did not fire"
    async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus) as late:
        assert late.get(agent) is None  # the retained card is gone, not just unseen


async def test_sigterm_drains_the_call_in_flight_then_exits(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    log, gate = tmp_path / "effects.log", tmp_path / "gate"
    proc = await agent_procs.start("distributed_agents:effect")
    agent = await agent_of(caller, proc)
    call = ActionCall(action="effect", arguments={"key": "k", "log": str(log), "gate": str(gate)})
    pending = asyncio.create_task(caller.remote("effect").invoke(call))
    await wait_until(lambda: bool(events(log)), what="the call to start")
    proc.send_signal(signal.SIGTERM)

    def draining() -> bool:
        info = caller.get(agent)
        return info is not None and info.card.status is AgentStatus.DRAINING

    assert await caller.wait_until(draining, WAIT), "the card never said draining"
    assert proc.returncode is None  # still finishing the call
    gate.touch()
    result = await asyncio.wait_for(pending, WAIT)
    assert result.ok and result.agent == agent
    assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    assert await caller.wait_until(lambda: caller.get(agent) is None, WAIT)
    assert [e for e, _, _ in events(log)] == ["start", "done"]
    assert "drained and stopped" in agent_procs.output(proc)


async def test_weft_agents_lists_a_served_agent(
    agent_procs: AgentProcesses, caller: LiveRegistry, broker_url: str, ns: str
) -> None:
    proc = await agent_procs.start("distributed_agents:shout", "distributed_agents:effect")
    agent = await agent_of(caller, proc)
    base = [sys.executable, "-m", "weft", "agents", "--broker", broker_url, "--namespace", ns]
    listing = await asyncio.create_subprocess_exec(
        *base, "--json", stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    out, _ = await asyncio.wait_for(listing.communicate(), WAIT)
    table = await asyncio.create_subprocess_exec(*base, stdout=asyncio.subprocess.PIPE, cwd=ROOT)
    text, _ = await asyncio.wait_for(table.communicate(), WAIT)
    (card,) = json.loads(out)
    assert card["agent_id"] == agent
    assert [a["name"] for a in card["actions"]] == ["shout", "effect"]
    assert card["alive"] is True and card["load"]["in_flight"] == 0
    assert card["pid"] == proc.pid
    assert agent in text.decode() and "shout@1, effect@1" in text.decode()


async def test_garbage_on_call_topics_leaves_the_agent_process_serving(
    agent_procs: AgentProcesses, caller: LiveRegistry, broker_url: str, ns: str
) -> None:
    proc = await agent_procs.start("distributed_agents:shout")
    agent = await agent_of(caller, proc)
    async with fast_bus(broker_url, ns, max_payload=16 * 1024 * 1024) as client:
        dead = await client.subscribe(client.topics.dead_letter())
        props = MessageProperties(response_topic=client.topics.replies(client.client_id))
        for topic in (client.topics.agent_call(agent), client.topics.pool_call("shout")):
            await client.publish(topic, os.urandom(1000), properties=props)
            await client.publish(topic, b'{"call_id": 7, "arguments": []}', properties=props)
        await client.publish(client.topics.agent_call(agent), os.urandom(10 * 1024 * 1024))
        records = [DeadLetter.model_validate_json((await dead.get(WAIT)).payload) for _ in range(5)]
    result = await caller.remote("shout").invoke(
        ActionCall(action="shout", arguments={"text": "ok"})
    )
    assert result.output == "OK" and result.agent == agent
    assert proc.returncode is None
    assert sorted(r.reason.value for r in records) == [
        "invalid_call", "invalid_call", "too_large", "undecodable", "undecodable"
    ]  # fmt: skip
    assert {r.received_by for r in records} == {agent}


async def test_an_agent_id_can_be_fixed_to_match_a_broker_user(
    agent_procs: AgentProcesses, caller: LiveRegistry
) -> None:
    proc = await agent_procs.start("distributed_agents:shout", args=("--agent-id", "shouter-1"))
    assert await agent_of(caller, proc) == "shouter-1"
