"""A call stays with its only agent when that agent's card was cleared and it came back.

An agent whose MQTT connection drops (a network blip, a twin taking its client
id, a keepalive missed on a loaded machine) has its Will published by the
broker, which clears its card: to a caller whose own connection stayed up
that looks like a death, and after ``gone_grace`` the call moves on as
``attempt + 1``. When no other agent serves the action, the call waits; the
same process then reconnects with the same incarnation and the same card.
It must get the call back (it runs each call once, a later attempt joining
the one it runs), rather than be passed over until the call's deadline.

The second case: a card of another process on the id's topic between two
heartbeats of the live one (the older of two twins, or a replayed card),
which moves the call twice; the live process must still answer it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from distributed_support import WAIT, cut_connection, fast_bus, hold_reconnects, wait_until

from weft.protocols import ActionCall, MessageProperties, Topics
from weft.runtime.remote.agent_host import AgentHost, agent_will
from weft.runtime.remote.card_signing import signed_card_json
from weft.runtime.remote.live_registry import LiveRegistry

AGENT = "blip-fixed"
#: The call's own budget, within the test's waits: a call left waiting for another agent
#: ends at it with a timeout result.
DEADLINE = 20.0


def gated_blip() -> tuple[asyncio.Event, list[str], Callable[[str], Awaitable[str]]]:
    """A tool that records each run and holds it until the gate opens."""
    gate, runs = asyncio.Event(), []

    async def blip(key: str) -> str:
        runs.append(key)
        await gate.wait()
        return key

    return gate, runs, blip


async def test_a_call_goes_back_to_its_only_agent_after_its_will_fired_and_it_returned(
    broker_url: str,
    ns: str,
    caller: LiveRegistry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate, runs, blip = gated_blip()
    will = agent_will(Topics(ns), AGENT)
    async with (
        fast_bus(broker_url, ns, client_id=AGENT, will=will) as agent_bus,
        AgentHost(agent_bus, [blip], agent_id=AGENT, check_id=False, heartbeat_interval=0.5),
    ):
        assert await caller.wait_until(lambda: caller.get(AGENT) is not None, WAIT)
        call = ActionCall(action="blip", arguments={"key": "k"}, deadline=time.time() + DEADLINE)
        pending = asyncio.create_task(caller.remote("blip").invoke(call))
        await wait_until(lambda: bool(runs), what="the call to start")

        outage_over = hold_reconnects(agent_bus, monkeypatch)
        cut_connection(agent_bus)
        assert await caller.wait_until(lambda: caller.get(AGENT) is None, WAIT)  # its Will
        await wait_until(
            lambda: "re-sending as attempt 2" in caplog.text,
            what="the caller to take the agent for dead",
        )
        outage_over.set()  # the same process, the same incarnation, back on the bus
        assert await caller.wait_until(lambda: caller.get(AGENT) is not None, WAIT)
        gate.set()
        result = await asyncio.wait_for(pending, WAIT)

    assert result.ok and result.output == "k", result
    assert result.agent == AGENT
    assert runs == ["k"]  # the second attempt joined the first, which it still ran


async def test_a_call_moved_by_a_twins_card_between_heartbeats_is_still_answered(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    gate, runs, blip = gated_blip()
    will = agent_will(Topics(ns), AGENT)
    async with (
        fast_bus(broker_url, ns, client_id=AGENT, will=will) as agent_bus,
        fast_bus(broker_url, ns) as twin_bus,
        AgentHost(
            agent_bus, [blip], agent_id=AGENT, check_id=False, heartbeat_interval=0.5
        ) as host,
    ):
        assert await caller.wait_until(lambda: caller.get(AGENT) is not None, WAIT)
        call = ActionCall(action="blip", arguments={"key": "k"}, deadline=time.time() + DEADLINE)
        pending = asyncio.create_task(caller.remote("blip").invoke(call))
        await wait_until(lambda: bool(runs), what="the call to start")

        # The older twin's last heartbeat, published after the live process's card.
        twin = host.card().model_copy(
            update={"incarnation": "0" * 16, "started_at": host.card().started_at - 1, "pid": 1}
        )
        live = host.incarnation
        assert host.key is not None
        await twin_bus.publish(
            twin_bus.topics.card(AGENT),
            signed_card_json(twin, host.key),
            qos=1,
            retain=True,
            properties=MessageProperties(message_expiry=twin.expiry),
        )
        assert await caller.wait_until(
            lambda: (info := caller.get(AGENT)) is not None and info.card.incarnation != live, WAIT
        )
        # The live process's next heartbeat takes the id back in the caller's registry.
        assert await caller.wait_until(
            lambda: (info := caller.get(AGENT)) is not None and info.card.incarnation == live, WAIT
        )
        gate.set()
        result = await asyncio.wait_for(pending, WAIT)

    assert result.ok and result.output == "k", result
    assert runs == ["k"]
