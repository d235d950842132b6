"""weft's A2A-over-MQTT agent on the in-process bus: pools, cancelling, stopping, the card.

Topic semantics are the bus's (the same on MQTT); these tests are about what
the agent does with them, so they need no broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from weft import tool
from weft.protocols import MessageProperties
from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import task_output
from weft.runtime.bus.base import Subscription
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.interop.a2a_mqtt import A2aMqttAgent
from weft.testing.a2a_mqtt_client import A2aMqttClient

from .a2a_tools import echo

WAIT = 5.0
REPLIES = "$a2a/v1/reply/acme/clients/tester/r1"
#: ``SendMessage`` params carrying a text, with a fresh (or the given) task id.
send_params = A2aMqttClient.message


class Caller:
    """Requests by hand on the in-process bus, replies by Correlation Data."""

    def __init__(self, bus: InProcessBus, sub: Subscription) -> None:
        self.bus, self.sub = bus, sub

    async def send(self, topic: str, method: str, params: dict[str, Any]) -> bytes:
        correlation = os.urandom(8)
        body = {"jsonrpc": "2.0", "id": correlation.hex(), "method": method, "params": params}
        props = MessageProperties(response_topic=REPLIES, correlation_data=correlation)
        await self.bus.publish(topic, json.dumps(body), properties=props)
        return correlation

    async def reply(self) -> tuple[dict[str, Any], dict[str, str], bytes | None]:
        message = await self.sub.get(timeout=WAIT)
        props = message.properties
        return json.loads(message.payload), props.user_properties, props.correlation_data


@pytest.fixture
def broker() -> InProcessBroker:
    return InProcessBroker()


@pytest.fixture
async def caller(broker: InProcessBroker) -> AsyncIterator[Caller]:
    async with InProcessBus(broker) as bus:
        sub = await bus.subscribe(REPLIES)
        yield Caller(bus, sub)


async def test_pooled_requests_are_shared_and_each_reply_names_its_replica(
    broker: InProcessBroker, caller: Caller
) -> None:
    first = wire.A2aMqttAddress("acme", "ops", "echo-1")
    second = wire.A2aMqttAddress("acme", "ops", "echo-2")
    async with InProcessBus(broker) as bus_1, InProcessBus(broker) as bus_2:
        agents = [
            A2aMqttAgent([echo], first, broker_url="mqtt://x", pool="echoes"),
            A2aMqttAgent([echo], second, broker_url="mqtt://x", pool="echoes"),
        ]
        await agents[0].start(bus_1)
        await agents[1].start(bus_2)
        pool = wire.pool_topic("acme", "ops", "echoes")
        tasks = [str(uuid.uuid4()) for _ in range(4)]
        for task_id in tasks:
            await caller.send(pool, wire.SEND_MESSAGE, send_params("hi", task_id=task_id))
        replies = [await caller.reply() for _ in tasks]
        responders = Counter(props[wire.RESPONDER] for _, props, _ in replies)
        assert responders == {"echo-1": 2, "echo-2": 2}
        # a follow-up goes to the replica that holds the task, on its own topic
        body, props, _ = replies[0]
        task_id = body["result"]["task"]["id"]
        holder = first if props[wire.RESPONDER] == "echo-1" else second
        await caller.send(holder.request_topic, wire.GET_TASK, {"id": task_id})
        got, _, _ = await caller.reply()
        assert got["result"]["id"] == task_id
        for agent in agents:
            await agent.stop()


async def test_cancel_task_stops_the_running_call(broker: InProcessBroker, caller: Caller) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    @tool
    async def wait_forever(text: str) -> str:
        """Waits until cancelled."""
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return text

    address = wire.A2aMqttAddress("acme", "ops", "waiter")
    async with InProcessBus(broker) as bus:
        agent = A2aMqttAgent([wait_forever], address, broker_url="mqtt://x")
        await agent.start(bus)
        task_id = str(uuid.uuid4())
        sent = await caller.send(
            address.request_topic, wire.SEND_MESSAGE, send_params("x", task_id=task_id)
        )
        await asyncio.wait_for(started.wait(), WAIT)
        await caller.send(address.request_topic, wire.CANCEL_TASK, {"id": task_id})
        replies = {corr: body for body, _, corr in [await caller.reply(), await caller.reply()]}
        await asyncio.wait_for(cancelled.wait(), WAIT)
        assert replies[sent]["result"]["task"]["status"]["state"] == "TASK_STATE_CANCELED"
        await agent.stop()


async def test_a_stopping_agent_finishes_its_calls_refuses_new_ones_and_goes_offline(
    broker: InProcessBroker, caller: Caller
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    @tool
    async def slow_echo(text: str) -> dict[str, str]:
        """Echoes once released."""
        entered.set()
        await release.wait()
        return {"text": text}

    address = wire.A2aMqttAddress("acme", "ops", "slow")
    async with InProcessBus(broker) as bus:
        cards = await caller.bus.subscribe(address.discovery_topic)
        agent = A2aMqttAgent([slow_echo], address, broker_url="mqtt://x")
        await agent.start(bus)
        online = await cards.get(timeout=WAIT)
        assert online.properties.user_properties[wire.STATUS] == wire.ONLINE
        running = await caller.send(address.request_topic, wire.SEND_MESSAGE, send_params("a"))
        await asyncio.wait_for(entered.wait(), WAIT)
        agent.request_stop()
        await caller.send(address.request_topic, wire.SEND_MESSAGE, send_params("b"))
        refused, _, _ = await caller.reply()
        assert refused["error"]["code"] == wire.RESPONDER_UNAVAILABLE
        assert refused["error"]["data"] == {"a2a_error": "responder_unavailable"}
        stopping = asyncio.create_task(agent.stop())
        release.set()
        finished, _, correlation = await caller.reply()
        assert correlation == running
        assert task_output(finished["result"]["task"]) == {"text": "a"}
        await asyncio.wait_for(stopping, WAIT)
        offline = await cards.get(timeout=WAIT)
        assert offline.properties.user_properties == {
            wire.STATUS: wire.OFFLINE,
            wire.STATUS_SOURCE: "agent",
        }


def test_the_will_is_the_card_offline_from_lwt() -> None:
    address = wire.A2aMqttAddress("acme", "ops", "echo")
    agent = A2aMqttAgent([echo], address, broker_url="mqtt://broker:1883", pool="echoes")
    will = agent.will()
    assert (will.topic, will.retain, will.qos) == (address.discovery_topic, True, 1)
    assert will.properties.user_properties == {wire.STATUS: wire.OFFLINE, wire.STATUS_SOURCE: "lwt"}
    card = json.loads(will.payload)
    assert card["supportedInterfaces"][0] == {
        "url": "mqtt://broker:1883",
        "protocolBinding": "MQTTv5+JSONRPCv2",
        "protocolVersion": "1.0",
    }
    binding = next(
        e for e in card["capabilities"]["extensions"] if e["uri"] == wire.A2A_MQTT_BINDING_URI
    )
    assert binding["params"]["poolTopic"] == "$a2a/v1/request/acme/ops/pool/echoes"


def test_pool_groups_are_stable_cleaned_and_bounded() -> None:
    assert wire.pool_group("acme", "ops", "echoes") == "a2a.acme.ops.echoes"
    assert wire.pool_group("a-b", "c", "d") == "a2a.a_b.c.d"
    long = wire.pool_group("o" * 40, "u" * 40, "p")
    assert len(long) == 64 and long == wire.pool_group("o" * 40, "u" * 40, "p")
    assert wire.shared_pool_filter("acme", "ops", "echoes") == (
        "$share/a2a.acme.ops.echoes/$a2a/v1/request/acme/ops/pool/echoes"
    )


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "a b", "#"])
def test_identifiers_outside_the_profile_alphabet_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="must match"):
        wire.A2aMqttAddress("acme", "ops", bad)


async def test_parts_that_are_not_part_objects_are_invalid_params(
    broker: InProcessBroker, caller: Caller
) -> None:
    address = wire.A2aMqttAddress("acme", "ops", "echo")
    async with InProcessBus(broker) as bus:
        agent = A2aMqttAgent([echo], address, broker_url="mqtt://x")
        await agent.start(bus)
        params = send_params("x")
        params["message"]["parts"] = "not a list"
        await caller.send(address.request_topic, wire.SEND_MESSAGE, params)
        body, _, _ = await caller.reply()
        await agent.stop()
    assert body["error"]["code"] == wire.INVALID_PARAMS


async def test_unregistering_clears_the_retained_card(broker: InProcessBroker) -> None:
    address = wire.A2aMqttAddress("acme", "ops", "leaving")
    async with InProcessBus(broker) as bus:
        agent = A2aMqttAgent([echo], address, broker_url="mqtt://x")
        await agent.start(bus)
        assert address.discovery_topic in broker.retained
        await agent.stop(unregister=True)
    assert address.discovery_topic not in broker.retained
