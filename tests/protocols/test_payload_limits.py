"""A received payload is measured before it is decoded: too large or too deep is refused.

Every receiver (the agent host for calls and cancels, the registry for
cards, the call client for replies) asks ``Bus.refuse`` first and
dead-letters what it refuses, with the reason; the process keeps serving.
Run on the in-process bus: the checks sit above the transport.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import weft
from weft.protocols import ActionCall, ActionResult, DeadLetter, DeadLetterReason, MessageProperties
from weft.runtime.bus.base import Subscription
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.bus.payload_limits import DEFAULT_MAX_JSON_DEPTH, json_depth, payload_problem
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry

WAIT = 10.0


@weft.tool
def shout(text: str) -> str:
    return text.upper()


def deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("payload", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "]]", "{{{"]', 1),  # brackets inside strings do not count
        (b'["a \\" [[[", [[]]]', 3),  # nor do they after an escaped quote
        (json.dumps(deep(500)).encode(), 500),
    ],
)
def test_json_depth_reads_the_nesting_without_decoding(payload: bytes, depth: int) -> None:
    assert json_depth(payload) == depth


def test_a_payload_over_the_size_limit_is_too_large() -> None:
    assert payload_problem(b"x" * 11, max_bytes=10, max_depth=5) == (
        DeadLetterReason.TOO_LARGE,
        "payload of 11 bytes exceeds the limit of 10 bytes (max_payload)",
    )


def test_a_payload_nested_past_the_depth_limit_is_too_deep() -> None:
    assert payload_problem(json.dumps(deep(5)).encode(), max_bytes=100, max_depth=5) is None
    assert payload_problem(json.dumps(deep(6)).encode(), max_bytes=100, max_depth=5) == (
        DeadLetterReason.TOO_DEEP,
        "JSON nested 6 levels deep exceeds the limit of 5 (max_json_depth)",
    )


def test_a_bus_refuses_by_its_own_limits() -> None:
    bus = InProcessBus(max_payload=100, max_json_depth=3)
    assert bus.refuse(b"[[[1]]]") is None
    refused = bus.refuse(b"[[[[1]]]]")
    assert refused is not None and refused[0] is DeadLetterReason.TOO_DEEP
    assert InProcessBus().max_json_depth == DEFAULT_MAX_JSON_DEPTH


@dataclass
class Agent:
    host: AgentHost
    client: InProcessBus
    dead: Subscription  # the dead-letter topic
    answers: Subscription  # the client's reply topic
    registry: LiveRegistry


@pytest.fixture
async def agent() -> AsyncIterator[Agent]:
    """An agent serving ``shout``, a client that may send 16 MiB, and a registry."""
    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as host_bus,
        InProcessBus(broker, max_payload=16 * 1024 * 1024) as client,
        AgentHost(host_bus, [shout]) as host,
        LiveRegistry(client) as registry,
    ):
        dead = await client.subscribe(client.topics.dead_letter())
        answers = await client.subscribe(client.topics.replies(client.client_id))
        await registry.wait_for(["shout"], WAIT)
        yield Agent(host, client, dead, answers, registry)


async def send_call(agent: Agent, payload: bytes | str) -> None:
    props = MessageProperties(
        response_topic=agent.client.topics.replies(agent.client.client_id), correlation_data=b"c"
    )
    await agent.client.publish(
        agent.client.topics.agent_call(agent.host.agent_id), payload, properties=props
    )


async def next_dead_letter(agent: Agent) -> DeadLetter:
    return DeadLetter.model_validate_json((await agent.dead.get(WAIT)).payload)


@pytest.mark.parametrize("depth", [DEFAULT_MAX_JSON_DEPTH - 1, 100_000])
async def test_a_call_nested_too_deep_is_dead_lettered_answered_and_the_agent_keeps_serving(
    agent: Agent, depth: int
) -> None:
    call = ActionCall(action="shout", arguments={"text": "x"}).model_dump_json()
    payload = call.replace('"x"', "[" * depth + '"x"' + "]" * depth)
    await send_call(agent, payload)
    letter = await next_dead_letter(agent)
    assert letter.reason is DeadLetterReason.TOO_DEEP
    # the call, its arguments, then the lists: just over the limit, or far over it
    assert letter.detail.startswith(f"JSON nested {depth + 2} levels deep exceeds the limit of 64")
    answer = ActionResult.model_validate_json((await agent.answers.get(WAIT)).payload)
    assert answer.error is not None and answer.error.type == "InvalidCall"
    assert "nested" in answer.error.message
    after = await agent.registry.remote("shout").invoke(
        ActionCall(action="shout", arguments={"text": "still here"})
    )
    assert after.output == "STILL HERE" and agent.host.dead_letters == 1


async def test_a_call_over_the_size_limit_is_too_large(agent: Agent) -> None:
    await send_call(agent, b"x" * (2 * 1024 * 1024))
    letter = await next_dead_letter(agent)
    assert letter.reason is DeadLetterReason.TOO_LARGE
    assert letter.payload_size == 2 * 1024 * 1024 and len(letter.excerpt) <= 512


async def test_a_card_nested_too_deep_is_refused_and_the_registry_keeps_reading(
    agent: Agent,
) -> None:
    card = {"agent_id": "forged", "actions": [], "topic": "t", "extra": deep(200)}
    await agent.client.publish(agent.client.topics.card("forged"), json.dumps(card))
    letter = await next_dead_letter(agent)
    assert letter.reason is DeadLetterReason.INVALID_CARD
    assert letter.detail.startswith("card refused: JSON nested 201 levels deep")
    assert agent.registry.invalid_cards == 1
    assert "forged" not in {info.card.agent_id for info in agent.registry.agents()}


async def test_a_cancel_nested_too_deep_is_dead_lettered(agent: Agent) -> None:
    payload = json.dumps({"call_id": "c", "reason": deep(100)})
    await agent.client.publish(agent.client.topics.agent_cancel(agent.host.agent_id), payload)
    letter = await next_dead_letter(agent)
    assert letter.reason is DeadLetterReason.TOO_DEEP
