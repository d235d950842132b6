"""Conformance kit for A2A over MQTT (docs/a2a-mqtt.md): run it against any agent.

A pytest module. Point it at a broker and an agent that echoes (a
``SendMessage`` whose message has a text part is answered with a completed
task whose artifacts carry the same text) and run it::

    WEFT_A2A_BROKER=mqtt://127.0.0.1:1883 WEFT_A2A_AGENT=acme/ops/echo \\
        python -m pytest --pyargs weft.testing.a2a_mqtt_conformance

``WEFT_A2A_SKILL`` names the echoing skill of an agent with several (sent
as ``message.metadata.skill``). ``WEFT_A2A_POOL`` adds the tests of shared
pool dispatch for that pool. Another test module can run the kit against
its own agent by importing the tests (``from weft.testing.a2a_mqtt_conformance
import *``) and overriding the fixtures ``a2a_broker``, ``a2a_agent`` and
``a2a_skill``. The kit's requester is ``A2aMqttClient`` (aiomqtt, not weft's
bus). Each test names the profile's rule it checks (EMQX A2A over MQTT 0.1);
card validity is checked with ``a2a-sdk``'s own types.

``WEFT_A2A_BROKER`` may carry a login and TLS options, as any weft broker
URL. A broker that refuses them, or an ACL that refuses the kit's requests,
fails a test at once with that refusal (``A2aBrokerRefused``,
``PublishRefusedError`` naming the topic) rather than with a reply timeout.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import task_output
from weft.testing.a2a_mqtt_client import A2aMqttClient, A2aMqttReply

__all__ = [
    "a2a_agent",
    "a2a_broker",
    "a2a_skill",
    "requester",
    "test_a_lone_stream_of_replies_ends_with_a_terminal_status",
    "test_a_malformed_payload_is_a_parse_error",
    "test_a_non_uuid_task_id_is_a_transport_protocol_error",
    "test_a_request_without_correlation_data_is_refused",
    "test_a_request_without_task_id_is_a_transport_protocol_error",
    "test_a_retried_request_for_a_task_returns_that_task",
    "test_a_task_can_be_read_back_with_get_task",
    "test_an_unknown_method_is_method_not_found",
    "test_an_unknown_task_is_an_error",
    "test_another_context_for_a_known_task_is_invalid_params",
    "test_send_message_is_answered_on_the_response_topic_with_the_correlation_data",
    "test_the_card_is_retained_valid_and_online",
    "test_the_context_id_given_is_echoed",
    "test_the_task_id_made_by_the_requester_is_kept",
]

POOL = os.environ.get("WEFT_A2A_POOL")
#: The kit's tests are coroutines; marked, so it runs under pytest-asyncio's strict mode too.
pytestmark = pytest.mark.asyncio


@pytest.fixture
def a2a_broker() -> str:
    """The broker's URL (``$WEFT_A2A_BROKER``)."""
    return os.environ.get("WEFT_A2A_BROKER", "mqtt://127.0.0.1:1883")


@pytest.fixture
def a2a_agent() -> wire.A2aMqttAddress:
    """The agent under test (``$WEFT_A2A_AGENT``, ``org/unit/agent``)."""
    text = os.environ.get("WEFT_A2A_AGENT")
    if not text:
        pytest.fail("set WEFT_A2A_AGENT=org/unit/agent (an agent that echoes text)")
    return wire.A2aMqttAddress.parse(text)


@pytest.fixture
def a2a_skill() -> str | None:
    """The echoing skill (``$WEFT_A2A_SKILL``), for an agent with several."""
    return os.environ.get("WEFT_A2A_SKILL") or None


@pytest_asyncio.fixture
async def requester(a2a_broker: str) -> AsyncIterator[A2aMqttClient]:
    async with A2aMqttClient(a2a_broker) as client:
        yield client


def _result(reply: A2aMqttReply) -> dict[str, Any]:
    body = reply.body
    assert isinstance(body, dict), f"reply is not a JSON object: {reply.payload!r}"
    assert body.get("jsonrpc") == "2.0", body
    assert "result" in body, f"expected a result, got {body}"
    result: dict[str, Any] = body["result"]
    return result


def _error(reply: A2aMqttReply, code: int) -> dict[str, Any]:
    body = reply.body
    assert isinstance(body, dict) and "error" in body, f"expected error {code}, got {body}"
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    if code in wire.A2A_ERRORS:  # "Mandatory Binding-Specific Error Mapping", rule 5
        assert error.get("data", {}).get("a2a_error") == wire.A2A_ERRORS[code], error
    return error


async def _echo(
    client: A2aMqttClient,
    agent: wire.A2aMqttAddress,
    skill: str | None,
    text: str,
    **ids: str,
) -> A2aMqttReply:
    return await client.send_message(agent.request_topic, {"text": text}, skill=skill, **ids)


async def test_the_card_is_retained_valid_and_online(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress
) -> None:
    """Discovery: a retained A2A card (QoS 1) with ``a2a-status: online`` from the agent."""
    from weft.runtime.interop.a2a_validate import validate_agent_card

    card = await requester.card(a2a_agent)
    assert card.retain, "Agent Cards MUST be published as retained messages"
    assert card.user_properties.get(wire.STATUS) == wire.ONLINE
    assert card.user_properties.get(wire.STATUS_SOURCE) in ("agent", "broker")
    written = validate_agent_card(card.body)
    assert any(i["url"].startswith(("mqtt://", "mqtts://")) for i in written["supportedInterfaces"])


async def test_send_message_is_answered_on_the_response_topic_with_the_correlation_data(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress, a2a_skill: str | None
) -> None:
    """Request/Reply rule 3: the reply goes to the Response Topic and echoes Correlation Data."""
    body = {"jsonrpc": "2.0", "id": "r-1", "method": wire.SEND_MESSAGE}
    params = requester.message({"text": "ping"}, skill=a2a_skill)
    correlation = os.urandom(16)
    await requester.publish(
        a2a_agent.request_topic, {**body, "params": params}, correlation=correlation
    )
    (reply,) = await requester.replies(correlation, first=True)
    assert reply.topic == requester.reply_topic and reply.correlation == correlation
    assert reply.body["id"] == "r-1"
    task = _result(reply)["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task_output(task)["text"] == "ping"


async def test_the_task_id_made_by_the_requester_is_kept(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress, a2a_skill: str | None
) -> None:
    """Request/Reply rules 6-7: the responder tracks and echoes the requester's Task.id."""
    task_id = str(uuid.uuid4())
    reply = await _echo(requester, a2a_agent, a2a_skill, "mine", task_id=task_id)
    assert _result(reply)["task"]["id"] == task_id


async def test_the_context_id_given_is_echoed(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress, a2a_skill: str | None
) -> None:
    """Context rule 4: responders preserve and echo the requester's context id."""
    context_id = str(uuid.uuid4())
    reply = await _echo(requester, a2a_agent, a2a_skill, "ctx", context_id=context_id)
    assert _result(reply)["task"]["contextId"] == context_id


async def test_a_retried_request_for_a_task_returns_that_task(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress, a2a_skill: str | None
) -> None:
    """Retry rule 4: a second request with the same Task.id gets the existing task."""
    task_id = str(uuid.uuid4())
    first = _result(await _echo(requester, a2a_agent, a2a_skill, "once", task_id=task_id))
    again = _result(await _echo(requester, a2a_agent, a2a_skill, "twice", task_id=task_id))
    assert again["task"]["id"] == task_id
    assert task_output(again["task"]) == task_output(first["task"])


async def test_another_context_for_a_known_task_is_invalid_params(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress, a2a_skill: str | None
) -> None:
    """Context rule 6: a Task.id seen with another context id is rejected with -32602."""
    task_id = str(uuid.uuid4())
    await _echo(requester, a2a_agent, a2a_skill, "a", task_id=task_id, context_id=str(uuid.uuid4()))
    reply = await _echo(
        requester, a2a_agent, a2a_skill, "b", task_id=task_id, context_id=str(uuid.uuid4())
    )
    _error(reply, wire.INVALID_PARAMS)


async def test_a_request_without_task_id_is_a_transport_protocol_error(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress
) -> None:
    """Responder rule 4: a missing Task.id is invalid protocol input (-32005)."""
    params = requester.message({"text": "no id"})
    del params["message"]["taskId"]
    reply = await requester.request(a2a_agent.request_topic, wire.SEND_MESSAGE, params)
    _error(reply, wire.TRANSPORT_PROTOCOL_ERROR)


async def test_a_non_uuid_task_id_is_a_transport_protocol_error(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress
) -> None:
    """Responder rule 4: a malformed Task.id is invalid protocol input (-32005)."""
    params = requester.message({"text": "bad id"}, task_id="task-1")
    reply = await requester.request(a2a_agent.request_topic, wire.SEND_MESSAGE, params)
    _error(reply, wire.TRANSPORT_PROTOCOL_ERROR)


async def test_a_request_without_correlation_data_is_refused(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress
) -> None:
    """Responder rule 2: a request without Correlation Data is rejected (-32005)."""
    body = {"jsonrpc": "2.0", "id": "nc", "method": wire.SEND_MESSAGE}
    params = requester.message({"text": "x"})
    await requester.publish(
        a2a_agent.request_topic, {**body, "params": params}, with_correlation=False
    )
    reply = await requester.stray.get()
    assert reply.correlation is None
    _error(reply, wire.TRANSPORT_PROTOCOL_ERROR)


async def test_a_malformed_payload_is_a_parse_error(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress
) -> None:
    """JSON-RPC: a payload that is not JSON is answered with -32700."""
    correlation = await requester.publish(a2a_agent.request_topic, b"{not json")
    assert correlation is not None
    (reply,) = await requester.replies(correlation, first=True)
    _error(reply, wire.PARSE_ERROR)


async def test_an_unknown_method_is_method_not_found(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress
) -> None:
    """JSON-RPC: an unknown method is answered with -32601."""
    reply = await requester.request(a2a_agent.request_topic, "message/teleport", {})
    _error(reply, wire.METHOD_NOT_FOUND)


async def test_a_task_can_be_read_back_with_get_task(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress, a2a_skill: str | None
) -> None:
    """Requester rule 8: follow-ups use the same Task.id; GetTask returns the task."""
    task_id = str(uuid.uuid4())
    await _echo(requester, a2a_agent, a2a_skill, "keep", task_id=task_id)
    reply = await requester.request(a2a_agent.request_topic, wire.GET_TASK, {"id": task_id})
    task = _result(reply)
    assert task["id"] == task_id and task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task_output(task)["text"] == "keep"


async def test_an_unknown_task_is_an_error(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress
) -> None:
    """A2A: GetTask of a task the agent never had is TaskNotFound (-32001)."""
    reply = await requester.request(
        a2a_agent.request_topic, wire.GET_TASK, {"id": str(uuid.uuid4())}
    )
    _error(reply, wire.TASK_NOT_FOUND)


async def test_a_lone_stream_of_replies_ends_with_a_terminal_status(
    requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress, a2a_skill: str | None
) -> None:
    """Streaming rules 1-5: every item echoes the correlation; a terminal status ends it."""
    params = requester.message({"text": "streamed"}, skill=a2a_skill)
    replies = await requester.stream(a2a_agent.request_topic, wire.SEND_STREAMING_MESSAGE, params)
    assert len({r.correlation for r in replies}) == 1
    last = _result(replies[-1])
    status = (last.get("statusUpdate") or last.get("task") or {})["status"]
    assert status["state"] == "TASK_STATE_COMPLETED"
    texts = [
        p.get("text")
        for r in replies
        for p in (_result(r).get("artifactUpdate") or {}).get("artifact", {}).get("parts", [])
    ] + [task_output(_result(r)["task"]).get("text") for r in replies if "task" in _result(r)]
    assert "streamed" in texts


if POOL:
    __all__ += ["test_a_pooled_request_is_answered_by_a_named_member"]

    async def test_a_pooled_request_is_answered_by_a_named_member(
        requester: A2aMqttClient, a2a_agent: wire.A2aMqttAddress, a2a_skill: str | None
    ) -> None:
        """Pool rules 3, 10: requests go to the pool topic; replies name the responder."""
        topic = wire.pool_topic(a2a_agent.org, a2a_agent.unit, POOL or "")
        reply = await requester.send_message(topic, {"text": "pooled"}, skill=a2a_skill)
        assert reply.user_properties.get(wire.RESPONDER), "pooled replies name the responder"
        assert task_output(_result(reply)["task"])["text"] == "pooled"
