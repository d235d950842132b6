"""A subscription made while the MQTT bus reconnects gets its messages.

An agent starting in a fight over its client id (two processes under one
``--agent-id``) subscribes to its call topic while its bus is between a
reconnect and the end of re-subscribing. The reconnect subscribed the new
filter with a new subscription identifier, and the subscribe then sent its
own SUBSCRIBE with the identifier it had drawn before, which the reconnect
had forgotten: the broker tagged every later message with that identifier,
the bus routed them nowhere, and the agent served no call while it kept that
connection (``test_agent_id_in_use``'s twins: the winner never answered).
"""

from __future__ import annotations

import asyncio

import pytest
from distributed_support import WAIT, cut_connection, fast_bus, hold_reconnects


async def test_a_subscribe_made_while_the_bus_reconnects_receives_messages(
    broker_url: str, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fast_bus(broker_url, ns) as bus, fast_bus(broker_url, ns) as sender:
        outage_over = hold_reconnects(bus, monkeypatch)
        cut_connection(bus)
        await asyncio.wait_for(bus.connection_changed(), WAIT)  # down
        assert not bus.connected
        topic = bus.topics.agent_call("late")
        subscribing = asyncio.create_task(bus.subscribe(topic, qos=1))
        await asyncio.sleep(0)
        assert topic in bus._filters  # registered, waiting for the connection
        outage_over.set()
        sub = await asyncio.wait_for(subscribing, WAIT)
        assert bus.connected and bus.reconnects == 1

        await sender.publish(topic, b"call", qos=1)
        message = await sub.get(timeout=WAIT)
        assert message.payload == b"call"


async def test_a_second_subscriber_of_a_filter_made_while_the_bus_reconnects_gets_retained(
    broker_url: str, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fast_bus(broker_url, ns) as bus, fast_bus(broker_url, ns) as sender:
        topic = bus.topics.card("retained-late")
        await sender.publish(topic, b"card", qos=1, retain=True)
        first = await bus.subscribe(topic, qos=1)
        assert (await first.get(timeout=WAIT)).payload == b"card"
        outage_over = hold_reconnects(bus, monkeypatch)
        cut_connection(bus)
        await asyncio.wait_for(bus.connection_changed(), WAIT)
        subscribing = asyncio.create_task(bus.subscribe(topic, qos=1))
        await asyncio.sleep(0)
        assert len(bus._filters[topic].members) == 2  # registered, waiting for the connection
        outage_over.set()
        second = await asyncio.wait_for(subscribing, WAIT)

        assert (await second.get(timeout=WAIT)).payload == b"card"  # retained, on subscribing
        await sender.publish(topic, b"later", qos=1, retain=True)
        assert (await second.get(timeout=WAIT)).payload == b"later"
        payloads = [(await first.get(timeout=WAIT)).payload for _ in range(2)]
        assert payloads == [b"card", b"later"]  # the reconnect's replay, then the live one
