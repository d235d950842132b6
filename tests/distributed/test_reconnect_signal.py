"""What agents and callers do on the bus's reconnect signal, shown on the in-process bus.

``InProcessBroker.restart()`` takes every bus through a reconnect, as a
restarted Mosquitto does, so these run without a broker; test_faults.py
shows the same over MQTT with real processes.
"""

from __future__ import annotations

import asyncio
import uuid

import weft
from weft.protocols import ActionCall, ActionState, AgentCard
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.remote_action import RemoteAction

WAIT = 10.0


async def test_an_agent_republishes_its_card_at_once_after_a_reconnect() -> None:
    broker = InProcessBroker()
    ns = f"t-{uuid.uuid4().hex[:8]}"

    @weft.tool
    def noop() -> str:
        return "ok"

    async with (
        InProcessBus(broker, namespace=ns) as agent_bus,
        InProcessBus(broker, namespace=ns) as observer,
    ):
        host = AgentHost(agent_bus, [noop], agent_id="a1", heartbeat_interval=3600)
        cards = await observer.subscribe(observer.topics.card("a1"))
        async with host:
            first = AgentCard.model_validate_json((await cards.get(timeout=WAIT)).payload)
            broker.restart()  # forgets the retained card, as a broker without persistence
            again = AgentCard.model_validate_json((await cards.get(timeout=WAIT)).payload)
        assert again.seq == first.seq + 1


async def test_a_call_in_flight_is_sent_again_to_its_agent_after_a_reconnect() -> None:
    broker = InProcessBroker()
    ns = f"t-{uuid.uuid4().hex[:8]}"
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    @weft.tool
    async def slow(key: str) -> str:
        runs.append(key)
        started.set()
        await release.wait()
        return key

    async with (
        InProcessBus(broker, namespace=ns) as agent_bus,
        InProcessBus(broker, namespace=ns) as caller_bus,
        AgentHost(agent_bus, [slow], agent_id="a1"),
    ):
        sends = await caller_bus.subscribe(caller_bus.topics.agent_call("a1"))
        action = RemoteAction(caller_bus, slow.spec, pool="slow", default_timeout=WAIT)
        call = ActionCall(action="slow", arguments={"key": "k"})
        running = asyncio.create_task(action.invoke(call))
        await asyncio.wait_for(started.wait(), WAIT)
        broker.restart()
        resent = ActionCall.model_validate_json((await sends.get(timeout=WAIT)).payload)
        release.set()
        result = await asyncio.wait_for(running, WAIT)
    assert (resent.call_id, resent.attempt) == (call.call_id, call.attempt)
    assert (result.state, result.output, runs) == (ActionState.OK, "k", ["k"])
