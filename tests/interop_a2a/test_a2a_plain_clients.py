"""What a client in another language meets when it calls weft's A2A agent by hand.

A plain-text client sends one text part; a hand-written MQTT requester gets
its mistakes answered with its own JSON-RPC id and the responder named; a
client never receives a secret the serving process has registered; the
stream of an answer to a task that asked opens with the task working. The
MQTT tests run the agent on the in-process bus (MQTT's topic semantics, no
broker): the payloads and properties are what a broker would carry.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.types import Message, Part, Role, SendMessageRequest, TaskState

from weft import ActionContext, secret, tool
from weft.protocols import MessageProperties
from weft.protocols import a2a_mqtt as wire
from weft.runtime.bus.base import Subscription
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop.a2a_calls import A2aCalls
from weft.runtime.interop.a2a_mqtt import A2aMqttAgent
from weft.runtime.interop.a2a_server import A2aHttpServer

WAIT = 5.0
REPLIES = "$a2a/v1/reply/acme/clients/plain/r1"
AGENT = wire.A2aMqttAddress("acme", "ops", "greeter")
KEY = secret("a2a-plain-client-key-5519")


@tool
def greet(name: str, excited: bool = False) -> str:
    """Greets someone."""
    return f"Hello, {name}{'!' if excited else '.'}"


@tool
def label(name: str, count: int) -> str:
    """A string and a required integer: a lone text cannot be all its arguments."""
    return f"{name} x{count}"


@tool
def rename(old: str, new: str) -> str:
    """Two string inputs: a lone text names neither."""
    return f"{old} -> {new}"


@tool
def echo_key(text: str, ctx: ActionContext) -> str:
    """Says the module's secret in a progress report and in its output."""
    ctx.progress(f"using {KEY}")
    return f"{text}: {KEY}"


@tool
def approve(text: str, ctx: ActionContext) -> str:
    """Asks a person before it approves."""
    return f"{text}: {ctx.ask('Approve?', choices=['yes', 'no'])}"


def text_part(text: str) -> list[dict[str, Any]]:
    return [{"text": text}]


def test_a_lone_text_goes_to_the_only_string_input_when_the_others_are_optional() -> None:
    calls = A2aCalls(ActionTable([greet]))
    assert calls.arguments(greet, text_part("Bob")) == {"name": "Bob"}


@pytest.mark.parametrize("action", [label, rename], ids=["other-required", "two-strings"])
def test_a_lone_text_stays_text_when_it_cannot_name_the_input(action: Any) -> None:
    calls = A2aCalls(ActionTable([action]))
    assert calls.arguments(action, text_part("Bob")) == {"text": "Bob"}


async def test_a_plain_text_message_calls_an_action_with_optional_inputs() -> None:
    result = await A2aCalls(ActionTable([greet])).run(text_part("Bob"), task_id="t1")
    assert result.ok and result.output == "Hello, Bob."


async def test_registered_secrets_are_masked_in_the_result_and_progress() -> None:
    reports: list[tuple[str, float | None, dict[str, Any]]] = []
    calls = A2aCalls(ActionTable([echo_key]))
    result = await calls.run(
        text_part("key"),
        task_id="t2",
        on_progress=lambda text, fraction, data: reports.append((text, fraction, data)),
    )
    assert result.output == "key: [REDACTED]"
    assert reports == [("using [REDACTED]", None, {})]


class Requester:
    """Raw requests on the bus, as ``mosquitto_pub`` sends them."""

    def __init__(self, bus: InProcessBus, replies: Subscription) -> None:
        self.bus, self.replies = bus, replies

    async def send(self, payload: str, correlation: bytes | None = None) -> None:
        props = MessageProperties(response_topic=REPLIES, correlation_data=correlation)
        await self.bus.publish(AGENT.request_topic, payload, properties=props)

    async def reply(self) -> tuple[dict[str, Any], MessageProperties]:
        message = await self.replies.get(timeout=WAIT)
        return json.loads(message.payload), message.properties


@pytest.fixture
async def requester() -> AsyncIterator[Requester]:
    broker = InProcessBroker()
    async with InProcessBus(broker) as agent_bus, InProcessBus(broker) as bus:
        agent = A2aMqttAgent([greet], AGENT, broker_url="mqtt://x")
        await agent.start(agent_bus)
        yield Requester(bus, await bus.subscribe(REPLIES))
        await agent.stop()


async def test_params_that_are_no_object_are_refused_with_the_requests_id(
    requester: Requester,
) -> None:
    body = {"jsonrpc": "2.0", "id": "p1", "method": wire.SEND_MESSAGE, "params": [1]}
    await requester.send(json.dumps(body), os.urandom(4))
    reply, props = await requester.reply()
    assert reply["id"] == "p1"
    assert reply["error"]["code"] == wire.INVALID_PARAMS
    assert props.user_properties[wire.RESPONDER] == "greeter"


async def test_a_request_without_correlation_data_is_refused_naming_the_responder(
    requester: Requester,
) -> None:
    message = {"messageId": "m1", "role": "ROLE_USER", "taskId": str(uuid.uuid4())}
    params = {"message": {**message, "parts": text_part("Bob")}}
    body = {"jsonrpc": "2.0", "id": 1, "method": wire.SEND_MESSAGE, "params": params}
    await requester.send(json.dumps(body))
    reply, props = await requester.reply()
    assert reply["error"]["code"] == wire.TRANSPORT_PROTOCOL_ERROR
    assert props.correlation_data is None
    assert props.user_properties[wire.RESPONDER] == "greeter"


async def test_a_plain_text_request_over_mqtt_greets(requester: Requester) -> None:
    message = {"messageId": "m2", "role": "ROLE_USER", "taskId": str(uuid.uuid4())}
    params = {"message": {**message, "parts": text_part("Bob")}}
    body = {"jsonrpc": "2.0", "id": 2, "method": wire.SEND_MESSAGE, "params": params}
    await requester.send(json.dumps(body), b"c2")
    reply, props = await requester.reply()
    task = reply["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"] == [{"text": "Hello, Bob."}]
    assert props.correlation_data == b"c2"


async def test_the_stream_of_an_answer_opens_with_the_task_working_again() -> None:
    async with A2aHttpServer([approve]) as server, httpx.AsyncClient() as http:
        blocking = ClientConfig(httpx_client=http, streaming=False)
        client = await ClientFactory(blocking).create_from_url(server.url)
        first = Message(message_id="m1", role=Role.ROLE_USER, parts=[Part(text="refund")])
        (asked,) = [e async for e in client.send_message(SendMessageRequest(message=first))]
        assert asked.task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        streaming = ClientConfig(httpx_client=http, streaming=True)
        client = await ClientFactory(streaming).create_from_url(server.url)
        answer = Message(
            message_id="m2",
            role=Role.ROLE_USER,
            parts=[Part(text="yes")],
            task_id=asked.task.id,
            context_id=asked.task.context_id,
        )
        events = [e async for e in client.send_message(SendMessageRequest(message=answer))]
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "status_update"
    assert events[0].status_update.status.state == TaskState.TASK_STATE_WORKING
    assert kinds[-1] == "status_update"
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
