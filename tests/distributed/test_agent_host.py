"""An agent host on a real broker: serving, pools, idempotency, deadlines, garbage, cancel."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from distributed_agents import shout
from distributed_support import WAIT, fast_bus

import weft
from weft.protocols import (
    ActionCall,
    ActionResult,
    ActionState,
    CallAccepted,
    DeadLetter,
    MessageProperties,
)
from weft.protocols.remote import ACK_PROPERTY, KIND_PROPERTY
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.remote.remote_action import RemoteAction


class Gate:
    """An action whose calls block until released; counts runs per key."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.runs: dict[str, int] = {}
        self.cancelled = asyncio.Event()

        @weft.tool(name="gated")
        async def gated(key: str) -> str:
            self.runs[key] = self.runs.get(key, 0) + 1
            self.started.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            return key

        self.action = gated


@pytest.fixture
async def host_bus(broker_url: str, ns: str) -> AsyncIterator[MqttBus]:
    async with fast_bus(broker_url, ns) as bus:
        yield bus


async def call_raw(
    bus: MqttBus, topic: str, call: ActionCall, reply_to: str, correlation: bytes
) -> None:
    """Publish a call the way a foreign client would, asking for an ack."""
    await bus.publish(
        topic,
        call.model_dump_json(),
        properties=MessageProperties(
            response_topic=reply_to,
            correlation_data=correlation,
            user_properties={ACK_PROPERTY: "1"},
        ),
    )


async def results(sub: Any, count: int) -> list[ActionResult]:
    """The next ``count`` results on a reply subscription (acks are skipped)."""
    out: list[ActionResult] = []
    while len(out) < count:
        message = await sub.get(WAIT)
        if message.properties.user_properties.get(KIND_PROPERTY) != "accepted":
            out.append(ActionResult.model_validate_json(message.payload))
    return out


async def test_a_served_action_answers_a_remote_call(
    host_bus: MqttBus, caller: LiveRegistry
) -> None:
    async with AgentHost(host_bus, [shout], heartbeat_interval=0.5) as host:
        await caller.wait_for(["shout"], WAIT)
        remote = caller.remote("shout")
        result = await remote.invoke(ActionCall(action="shout", arguments={"text": "hi"}))
    assert result.state is ActionState.OK
    assert result.output == "HI"
    assert result.agent == host.agent_id
    assert remote.spec.input_schema["required"] == ["text"]


async def test_replicas_of_a_pool_share_the_calls(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    calls = [ActionCall(action="shout", arguments={"text": str(i)}) for i in range(20)]
    async with (
        fast_bus(broker_url, ns) as bus_a,
        fast_bus(broker_url, ns) as bus_b,
        AgentHost(bus_a, [shout], heartbeat_interval=0.5) as a,
        AgentHost(bus_b, [shout], heartbeat_interval=0.5) as b,
    ):
        await caller.wait_until(lambda: len(caller.serving("shout")) == 2, WAIT)
        remote = caller.remote("shout")
        answers = await asyncio.gather(*(remote.invoke(call) for call in calls))
    agents = [r.agent for r in answers]
    assert all(r.ok for r in answers)
    assert agents.count(a.agent_id) > 0 and agents.count(b.agent_id) > 0
    assert set(agents) == {a.agent_id, b.agent_id}


async def test_a_duplicate_delivery_runs_once_and_gets_the_same_result(
    host_bus: MqttBus, broker_url: str, ns: str
) -> None:
    gate = Gate()
    async with AgentHost(host_bus, [gate.action]) as host, fast_bus(broker_url, ns) as client:
        reply_to = client.topics.replies(client.client_id)
        sub = await client.subscribe(reply_to)
        call = ActionCall(action="gated", arguments={"key": "k"})
        topic = client.topics.agent_call(host.agent_id)
        await call_raw(client, topic, call, reply_to, b"first")
        await asyncio.wait_for(gate.started.wait(), WAIT)
        await call_raw(client, topic, call, reply_to, b"second")  # while the first runs
        gate.release.set()
        first, second = await results(sub, 2)
        await call_raw(client, topic, call, reply_to, b"third")  # after it finished
        (third,) = await results(sub, 1)
    assert gate.runs == {"k": 1}
    assert first == second == third
    assert first.output == "k"


async def test_a_later_attempt_joins_the_attempt_still_running(
    host_bus: MqttBus, broker_url: str, ns: str
) -> None:
    gate = Gate()
    async with AgentHost(host_bus, [gate.action]) as host, fast_bus(broker_url, ns) as client:
        reply_to = client.topics.replies(client.client_id)
        sub = await client.subscribe(reply_to)
        call = ActionCall(action="gated", arguments={"key": "k"})
        topic = client.topics.agent_call(host.agent_id)
        await call_raw(client, topic, call, reply_to, b"1")
        await asyncio.wait_for(gate.started.wait(), WAIT)
        retry = call.model_copy(update={"attempt": 2})
        await call_raw(client, topic, retry, reply_to, b"2")
        gate.release.set()
        answers = await results(sub, 2)
    assert gate.runs == {"k": 1}
    assert [a.output for a in answers] == ["k", "k"]


async def test_the_agent_acknowledges_a_call_when_asked(
    host_bus: MqttBus, broker_url: str, ns: str
) -> None:
    async with AgentHost(host_bus, [shout]) as host, fast_bus(broker_url, ns) as client:
        reply_to = client.topics.replies(client.client_id)
        sub = await client.subscribe(reply_to)
        call = ActionCall(action="shout", arguments={"text": "x"})
        await call_raw(client, client.topics.pool_call("shout"), call, reply_to, b"c")
        first = await sub.get(WAIT)
        second = await sub.get(WAIT)
    assert first.properties.user_properties[KIND_PROPERTY] == "accepted"
    ack = CallAccepted.model_validate_json(first.payload)
    assert (ack.call_id, ack.attempt, ack.agent_id) == (call.call_id, 1, host.agent_id)
    assert second.properties.user_properties[KIND_PROPERTY] == "result"
    assert first.properties.correlation_data == second.properties.correlation_data == b"c"


async def test_a_call_past_its_deadline_is_not_started(
    host_bus: MqttBus, broker_url: str, ns: str
) -> None:
    gate = Gate()
    async with AgentHost(host_bus, [gate.action]) as host, fast_bus(broker_url, ns) as client:
        reply_to = client.topics.replies(client.client_id)
        sub = await client.subscribe(reply_to)
        import time

        call = ActionCall(action="gated", arguments={"key": "late"}, deadline=time.time() - 1)
        await call_raw(client, client.topics.agent_call(host.agent_id), call, reply_to, b"c")
        (result,) = await results(sub, 1)
    assert result.state is ActionState.TIMEOUT
    assert "expired" in (result.error.message if result.error else "")
    assert gate.runs == {}


async def test_garbage_on_call_topics_is_dead_lettered_and_the_agent_keeps_serving(
    host_bus: MqttBus, broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    big = fast_bus(broker_url, ns, max_payload=16 * 1024 * 1024)
    async with AgentHost(host_bus, [shout]) as host, big as client:
        dead = await client.subscribe(client.topics.dead_letter())
        reply_to = client.topics.replies(client.client_id)
        answers = await client.subscribe(reply_to)
        agent_topic = client.topics.agent_call(host.agent_id)
        pool_topic = client.topics.pool_call("shout")
        props = MessageProperties(response_topic=reply_to, correlation_data=b"junk")
        await client.publish(agent_topic, os.urandom(256))
        await client.publish(
            pool_topic, json.dumps({"action": 42, "bogus": True}), properties=props
        )
        await client.publish(agent_topic, b"x" * (10 * 1024 * 1024))
        await client.publish(agent_topic, json.dumps({"action": "nope"}), properties=props)
        await client.publish(client.topics.card("forged"), b"{not a card")
        records = [DeadLetter.model_validate_json((await dead.get(WAIT)).payload) for _ in range(5)]
        errors = [
            ActionResult.model_validate_json((await answers.get(WAIT)).payload) for _ in range(2)
        ]
        await caller.wait_for(["shout"], WAIT)
        after = await caller.remote("shout").invoke(
            ActionCall(action="shout", arguments={"text": "still here"})
        )
    reasons = sorted(r.reason.value for r in records)
    assert reasons == [
        "invalid_call", "invalid_card", "too_large", "undecodable", "unknown_action"
    ]  # fmt: skip
    too_large = next(r for r in records if r.reason.value == "too_large")
    assert too_large.payload_size == 10 * 1024 * 1024 and len(too_large.excerpt) <= 512
    assert {e.error.type for e in errors if e.error} == {"InvalidCall", "UnknownAction"}
    assert after.output == "STILL HERE"
    assert host.dead_letters == 4 and caller.invalid_cards == 1


async def test_cancelling_the_caller_cancels_the_call_on_the_agent(
    host_bus: MqttBus, caller: LiveRegistry
) -> None:
    gate = Gate()
    async with AgentHost(host_bus, [gate.action]):
        await caller.wait_for(["gated"], WAIT)
        task = asyncio.create_task(
            caller.remote("gated").invoke(ActionCall(action="gated", arguments={"key": "c"}))
        )
        await asyncio.wait_for(gate.started.wait(), WAIT)
        task.cancel()
        await asyncio.wait_for(gate.cancelled.wait(), WAIT)


def _word_workflow() -> weft.Workflow:
    wf = weft.Workflow("words")
    wf.input("texts", type="array")
    wf.node("loud", "shout", foreach="${inputs.texts}", with_={"text": "${item}"})
    wf.node("joined", "join_words", after="loud", with_={"words": "${loud}"})
    return wf


@weft.tool
def join_words(words: list[str]) -> str:
    return " ".join(words)


async def test_the_same_workflow_runs_in_process_and_over_either_bus(
    host_bus: MqttBus, caller: LiveRegistry
) -> None:
    inputs = {"texts": ["a", "b", "c"]}
    local = await weft.run_workflow(_word_workflow(), inputs, actions=[shout, join_words])

    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_side,
        InProcessBus(broker) as caller_side,
        AgentHost(agent_side, [shout, join_words]),
        LiveRegistry(caller_side) as reg,
    ):
        in_process_bus = await weft.run_workflow(_word_workflow(), inputs, actions=reg.actions())

    async with AgentHost(host_bus, [shout, join_words]):
        await caller.wait_for(["shout", "join_words"], WAIT)
        over_mqtt = await weft.run_workflow(_word_workflow(), inputs, actions=caller.actions())

    assert local.outputs == in_process_bus.outputs == over_mqtt.outputs == {"joined": "A B C"}
    assert over_mqtt.ok


async def test_a_remote_action_without_registry_calls_a_pool(
    host_bus: MqttBus, broker_url: str, ns: str
) -> None:
    async with AgentHost(host_bus, [shout]), fast_bus(broker_url, ns) as client:
        remote = RemoteAction(client, shout.spec, pool="shout")
        result = await remote.invoke(ActionCall(action="shout", arguments={"text": "p"}))
    assert result.output == "P"


async def test_no_agent_means_a_timeout_that_says_so(caller: LiveRegistry) -> None:
    remote = RemoteAction(caller.client, shout.spec, registry=caller)
    import time

    result = await remote.invoke(
        ActionCall(action="shout", arguments={"text": "x"}, deadline=time.time() + 1.5)
    )
    assert result.state is ActionState.TIMEOUT
    assert result.error is not None and "no live agent serves 'shout'" in result.error.message


async def test_the_card_lists_actions_pools_and_load(
    host_bus: MqttBus, caller: LiveRegistry
) -> None:
    async with AgentHost(host_bus, [shout], pool="loud", concurrency=3) as host:
        await caller.wait_for(["shout"], WAIT)
        info = caller.get(host.agent_id)
        alive, load = caller.alive(), caller.load(host.agent_id)
        card_alive, card_load = caller.router_sources()
        assert card_alive("loud") and card_load("loud") == 0.0  # what a router sees
        assert not card_alive("shout") and card_load("shout") == 1.0
        assert [c.agent_id for c in caller.capability_cards()] == ["loud"]
    assert info is not None
    assert info.card.pools == {"shout": "loud"}
    assert info.card.load.capacity == 3
    spec = info.card.spec("shout")
    assert spec is not None and spec.card is not None
    assert spec.card.topic == host_bus.topics.pool_call("loud")
    assert host.agent_id in alive and load == 0.0
    # a stopped agent clears its card
    assert await caller.wait_until(lambda: caller.get(host.agent_id) is None, WAIT)


def test_a_host_needs_an_action() -> None:
    with pytest.raises(ValueError):
        AgentHost(InProcessBus(), [])


async def test_a_message_on_a_card_topic_must_be_a_card(caller: LiveRegistry) -> None:
    await caller.bus.publish(caller.bus.topics.card("x"), b'{"agent_id": "y", "actions": []}')
    assert await caller.wait_until(lambda: caller.invalid_cards == 1, WAIT)
    assert caller.agents() == []


@weft.tool(name="approve")
def approve(ctx: weft.ActionContext) -> str:
    """Asks a person to pick one of two answers."""
    return f"answered {ctx.ask('Refund 40 EUR?', choices=['yes', 'no'])}"


async def test_an_answer_not_among_the_choices_fails_the_call_on_the_agent(
    host_bus: MqttBus, caller: LiveRegistry
) -> None:
    """Any client may re-send a call with answers: the host takes only offered ones."""
    async with AgentHost(host_bus, [approve], heartbeat_interval=0.5):
        await caller.wait_for(["approve"], WAIT)
        remote = caller.remote("approve")
        asked = await remote.invoke(ActionCall(action="approve"))
        offered = await remote.invoke(ActionCall(action="approve", answers=["no"]))
        other = await remote.invoke(ActionCall(action="approve", answers=["maybe"]))
    assert asked.state is ActionState.NEEDS_INPUT
    assert asked.error is not None and asked.error.details["choices"] == ["yes", "no"]
    assert offered.state is ActionState.OK and offered.output == "answered no"
    assert other.state is ActionState.ERROR
    assert other.error is not None and other.error.type == "InvalidAnswer"
    assert not other.error.retryable
    assert other.error.message.endswith(
        "the answer to 'Refund 40 EUR?' cannot be taken: 'maybe' is not one of the choices: "
        "'yes', 'no'"
    )


def test_a_call_without_a_timeout_says_it_had_the_default_and_how_to_give_more() -> None:
    """The deadline of a node without ``timeout:`` is the remote default (300 s): the
    message says so, and that the node's ``timeout:`` or ``defaults:`` changes it."""
    from weft.runtime.remote._call_state import CallState, timed_out

    state = CallState(ActionCall(action="think"), deadline=0.0, attempt=1)
    state.holder, state.accepted = "thinker-1", True
    result = timed_out(state, "think", "default", 300.0, 300.0)
    assert result.state is ActionState.TIMEOUT and result.agent == "thinker-1"
    assert result.error is not None and result.error.message == (
        "remote action 'think': no result before the call deadline (300s): agent "
        "'thinker-1' accepted the call but sent no result in time; a remote call without "
        "a 'timeout:' has 300s: set the node's 'timeout:' or the workflow's "
        "'defaults: {timeout: ...}' to give it more"
    )
