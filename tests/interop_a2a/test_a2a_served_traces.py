"""Tasks served by ``weft a2a serve`` are traced as runs, over HTTP and over MQTT.

``weft a2a serve --http --mqtt`` runs in a process of its own against the
test broker; a2a-sdk's client calls it over HTTP, a plain MQTT v5 requester
(``A2aMqttClient``) over A2A's MQTT binding. Then ``weft trace ls --json``
lists one run per task, named ``SKILL (a2a)`` or ``SKILL (a2a-mqtt)``, with
its state; the store holds the protocol and the task's context id. A task
that asked its client (``input-required``) goes on in the same run when it
is answered. ``--no-trace`` writes nothing.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from a2a.client import ClientConfig, ClientFactory
from a2a.types import Message, SendMessageRequest
from google.protobuf.json_format import MessageToDict, ParseDict
from served_trace_store import home, spans_of, trace_ls

from weft.protocols import a2a_mqtt as wire
from weft.testing.a2a_mqtt_client import A2aMqttClient
from weft.testing.processes import weft_process

ROOT = Path(__file__).resolve().parents[2]
TOOLS = "tests/served_actions.py:tools"


async def over_http(url: str, text: str, skill: str, context_id: str) -> list[dict[str, Any]]:
    """Every event a2a-sdk's client gets for one message to ``skill``, as JSON."""
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": [{"text": text}],
        "contextId": context_id,
        "metadata": {"skill": skill},
    }
    request = SendMessageRequest(message=ParseDict(message, Message()))
    async with httpx.AsyncClient() as http:
        config = ClientConfig(httpx_client=http, streaming=False)
        client = await ClientFactory(config).create_from_url(url)
        return [MessageToDict(event) async for event in client.send_message(request)]


def serve_args(address: wire.A2aMqttAddress, broker: str, *flags: str) -> list[str]:
    return [
        "a2a", "serve", TOOLS, "--http", "127.0.0.1:0", "--mqtt", str(address),
        "--broker", broker, *flags,
    ]  # fmt: skip


async def test_each_task_is_a_run_over_http_and_mqtt(mqtt_broker_url: str) -> None:
    address = wire.A2aMqttAddress("acme", f"u{uuid.uuid4().hex[:10]}", "served")
    args = serve_args(address, mqtt_broker_url)
    async with (
        weft_process(*args, ready=r"(?s)at (http://\S+) .*over MQTT", cwd=ROOT) as served,
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        [event] = await over_http(served.ready.group(1), "hello", "echo", "ctx-bob")
        assert event["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
        topic = address.request_topic
        said = await client.send_message(topic, "hi", skill="echo", context_id="ctx-alice")
        failed = await client.send_message(topic, {"n": 500}, skill="boom")
        asked = await client.send_message(topic, "the memo", skill="confirm")
        task = asked.body["result"]["task"]
        answered = await client.send_message(
            topic, "yes", task_id=task["id"], context_id=task["contextId"]
        )
        await client.clear(address)
    assert said.body["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert failed.body["result"]["task"]["status"]["state"] == "TASK_STATE_FAILED"
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert answered.body["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"

    runs = {run["workflow"]: run for run in trace_ls()}
    assert runs["echo (a2a)"]["state"] == "succeeded"
    assert runs["echo (a2a-mqtt)"]["state"] == "succeeded"
    assert runs["boom (a2a-mqtt)"]["state"] == "failed"
    assert runs["confirm (a2a-mqtt)"]["state"] == "succeeded"  # asked, then answered

    run, call = spans_of(runs["echo (a2a)"]["run_id"])
    assert (run.kind, run.attributes["served.protocol"]) == ("run", "a2a")
    assert run.attributes["served.client"] == "ctx-bob"
    assert (call.name, call.status, call.attributes["output"]) == ("echo", "ok", "hello")
    run = spans_of(runs["echo (a2a-mqtt)"]["run_id"])[0]
    assert run.attributes["served.protocol"] == "a2a-mqtt"
    assert run.attributes["served.client"] == "ctx-alice"
    assert run.attributes["served.task"] == said.body["result"]["task"]["id"]

    boom = {s.kind: s for s in spans_of(runs["boom (a2a-mqtt)"]["run_id"])}
    assert boom["run"].attributes["error"] == "ValueError: boom: 500 is too big for this tool"
    assert "served_actions.py" in boom["call"].attributes["error"]["details"]["traceback"]

    turns = spans_of(runs["confirm (a2a-mqtt)"]["run_id"])
    assert [s.status for s in turns if s.kind == "run"] == ["needs_input", "succeeded"]
    assert [s.status for s in turns if s.kind == "call"] == ["needs_input", "ok"]
    assert turns[-1].attributes["output"] == "sent the memo"


async def test_no_trace_writes_nothing(mqtt_broker_url: str) -> None:
    address = wire.A2aMqttAddress("acme", f"u{uuid.uuid4().hex[:10]}", "served")
    args = serve_args(address, mqtt_broker_url, "--no-trace")
    async with (
        weft_process(*args, ready=r"(?s)at (http://\S+) .*over MQTT", cwd=ROOT) as served,
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        [event] = await over_http(served.ready.group(1), "hello", "echo", "ctx-bob")
        said = await client.send_message(address.request_topic, "hi", skill="echo")
        await client.clear(address)
    assert event["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert said.body["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert not (home() / "traces.db").exists()
