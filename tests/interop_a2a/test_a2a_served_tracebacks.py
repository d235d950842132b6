"""A failed task of ``weft a2a serve``: the client gets the error, the server keeps the traceback.

What an A2A client receives when the action raises, over HTTP (a2a-sdk's own
client, blocking and streaming) and over MQTT (a plain MQTT v5 requester on
the test broker, blocking and streaming): the task ``failed``, its status
message the tool's message, ``metadata.weftError`` its type and message, and
nowhere the traceback or the server's file paths. The server logs the
traceback; ``--send-tracebacks`` sends it too, as before.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.types import Message, Part, Role, SendMessageRequest
from failing_actions import boom
from google.protobuf.json_format import MessageToDict, ParseDict

from weft.protocols import ActionCall
from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import ERROR_METADATA
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop.a2a_calls import A2aCalls
from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt
from weft.runtime.interop.a2a_server import A2aHttpServer
from weft.runtime.interop.served_errors import LOGGER
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry
from weft.testing.a2a_mqtt_client import A2aMqttClient
from weft.testing.processes import weft_process

ROOT = Path(__file__).resolve().parents[2]
TOOLS = "tests/failing_actions.py"
#: Where the failing tool lives: what a client must not learn.
SOURCE = "failing_actions.py"
MESSAGE = "boom: 500 is too big for this tool"


def request() -> SendMessageRequest:
    part = ParseDict({"data": {"n": 500}}, Part())
    return SendMessageRequest(
        message=Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[part])
    )


async def over_http(url: str, *, streaming: bool) -> list[dict[str, Any]]:
    """Every event a2a-sdk's client gets for ``boom(n=500)``, as JSON."""
    async with httpx.AsyncClient() as http:
        config = ClientConfig(httpx_client=http, streaming=streaming)
        client = await ClientFactory(config).create_from_url(url)
        return [MessageToDict(event) async for event in client.send_message(request())]


def failed_status(event: dict[str, Any]) -> dict[str, Any]:
    """The failed status of a task (a blocking reply) or of its last update (a stream)."""
    status = (event.get("task") or event.get("statusUpdate"))["status"]
    assert status["state"] == "TASK_STATE_FAILED"
    return status


def assert_no_traceback(events: list[Any], status: dict[str, Any]) -> None:
    assert status["message"]["parts"] == [{"text": MESSAGE}]
    assert status["message"]["metadata"][ERROR_METADATA] == {
        "type": "ValueError",
        "message": MESSAGE,
    }
    sent = json.dumps(events)
    assert SOURCE not in sent and "Traceback" not in sent


def traceback_sent(status: dict[str, Any]) -> str:
    stack = status["message"]["metadata"][ERROR_METADATA]["details"]["traceback"]
    assert isinstance(stack, str) and SOURCE in stack and "in _check" in stack
    return stack


async def test_an_http_client_gets_the_error_but_no_traceback() -> None:
    async with A2aHttpServer([boom]) as server:
        blocking = await over_http(server.url, streaming=False)
        streamed = await over_http(server.url, streaming=True)
    assert_no_traceback(blocking, failed_status(blocking[-1]))
    assert_no_traceback(streamed, failed_status(streamed[-1]))


async def test_an_mqtt_client_gets_the_error_but_no_traceback(mqtt_broker_url: str) -> None:
    address = wire.A2aMqttAddress("acme", f"u{uuid.uuid4().hex[:10]}", "boom")
    async with (
        serve_a2a_mqtt([boom], mqtt_broker_url, address, unregister=True),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        reply = await client.send_message(address.request_topic, {"n": 500})
        params = client.message({"n": 500})
        stream = await client.stream(address.request_topic, wire.SEND_STREAMING_MESSAGE, params)
    blocking = [reply.body]
    assert_no_traceback(blocking, failed_status(reply.body["result"]))
    streamed = [r.body for r in stream]
    assert_no_traceback(streamed, failed_status(streamed[-1]["result"]))


async def test_the_server_logs_the_traceback_it_did_not_send(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        result = await A2aCalls(ActionTable([boom])).run([{"data": {"n": 500}}], task_id="t1")
    assert result.error is not None and result.error.details == {}
    [record] = [r for r in caplog.records if r.name == LOGGER]
    logged = str(record.msg) + record.getMessage()
    assert MESSAGE in logged and "t1" in logged
    assert SOURCE in logged and "in _check" in logged


async def test_send_tracebacks_sends_them_over_http_and_mqtt(mqtt_broker_url: str) -> None:
    unit = f"u{uuid.uuid4().hex[:10]}"
    address = wire.A2aMqttAddress("acme", unit, "boom")
    args = [
        "a2a", "serve", f"{TOOLS}:boom", "--send-tracebacks", "--http", "127.0.0.1:0",
        "--mqtt", str(address), "--broker", mqtt_broker_url,
    ]  # fmt: skip
    async with (
        weft_process(*args, ready=r"(?s)at (http://\S+) .*over MQTT", cwd=ROOT) as served,
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        (event,) = await over_http(served.ready.group(1), streaming=False)
        reply = await client.send_message(address.request_topic, {"n": 500})
        await client.clear(address)
    traceback_sent(failed_status(event))
    traceback_sent(failed_status(reply.body["result"]))


async def test_the_bus_keeps_the_traceback_that_the_a2a_client_does_not_get(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``weft a2a serve --broker``: the agent's traceback reaches the server over weft's
    bus (a weft caller's trace shows it), and the server logs it but does not send it."""
    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_side,
        InProcessBus(broker) as server_side,
        AgentHost(agent_side, [boom]),
        LiveRegistry(server_side) as live,
    ):
        await live.wait_for(["boom"], 5.0)
        over_bus = (
            await live.actions().get("boom").invoke(ActionCall(action="boom", arguments={"n": 500}))
        )
        with caplog.at_level(logging.ERROR, logger=LOGGER):
            served = await A2aCalls(live.actions()).run([{"data": {"n": 500}}], task_id="t2")
    assert over_bus.error is not None and SOURCE in over_bus.error.details["traceback"]
    assert served.error is not None and served.error.details == {}
    assert MESSAGE in served.error.message
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert SOURCE in str(record.msg) + record.getMessage()
