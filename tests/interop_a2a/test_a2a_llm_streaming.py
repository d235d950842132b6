"""An LLM agent's streamed text over A2A, served and called, over HTTP and over MQTT.

Served: a ``SendStreamingMessage`` gets the text as chunks of the task's answer
artifact (``append``), then the whole answer once (``lastChunk``), never as empty
``working`` statuses; a blocking ``SendMessage`` gets no pieces and the model is not
asked to stream. Called: a weft run's listeners get a remote agent's chunks as
``text_delta``s. The real openai client against the scripted server, the SDK's
client and server, the real broker.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from a2a.client import ClientConfig, ClientFactory
from a2a.types import GetTaskRequest, Message, Part, Role, SendMessageRequest
from google.protobuf.json_format import MessageToDict, ParseDict

import weft
from weft import ActionContext, Workflow, run_workflow, tool
from weft.agents import A2aMqttAction, LLMAgent
from weft.agents.a2a_action import A2aAction
from weft.agents.streaming import stream_text
from weft.protocols import ActionCall, ActionState, RunEvent
from weft.protocols import a2a_mqtt as wire
from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt
from weft.runtime.interop.a2a_server import A2aHttpServer
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls
from weft.testing.a2a_mqtt_client import A2aMqttClient

from .a2a_tools import Recorder
from .test_a2a_mqtt_action import FOREIGN_CARD, foreign_agent, unique_address, url_of
from .test_a2a_streaming import call_plain

ANSWER = "Rivers run to the sea and never fill it."
#: What the LLM agent is asked (its input has two properties: a data part names them).
TASK = {"task": "a poem"}


@asynccontextmanager
async def writer(*, stream: bool | None = None) -> AsyncIterator[tuple[LLMAgent, ScriptedModel]]:
    """An LLM agent whose model (the scripted server) answers ``ANSWER`` once."""
    model = ScriptedModel([text(ANSWER)])
    async with OpenAIServer(model) as server:
        yield LLMAgent("writer", base_url=server.base_url, model="m", stream=stream), model


def chunks_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["artifactUpdate"] for e in events if "artifactUpdate" in e]


def assert_streamed_as_chunks(events: list[dict[str, Any]]) -> None:
    """Pieces as appended chunks of one artifact, then that artifact whole, last."""
    *pieces, whole = chunks_of(events)
    ids = {c["artifact"]["artifactId"] for c in [*pieces, whole]}
    assert len(pieces) >= 2 and len(ids) == 1
    assert not pieces[0].get("append") and all(c["append"] for c in pieces[1:])
    assert "".join(p["artifact"]["parts"][0]["text"] for p in pieces) == ANSWER
    assert whole["lastChunk"] and not whole.get("append")
    assert whole["artifact"]["parts"] == [{"text": ANSWER}]
    statuses = [e["statusUpdate"]["status"] for e in events if "statusUpdate" in e]
    assert all(s.get("message", {}).get("parts", [{}])[0].get("text") for s in statuses[:-1]), (
        "no working status without text"
    )


async def sdk_send(url: str, *, streaming: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One message through the SDK's client; its events and the task ``GetTask`` reads after."""
    async with httpx.AsyncClient() as http:
        client = await ClientFactory(
            ClientConfig(httpx_client=http, streaming=streaming)
        ).create_from_url(url)
        message = Message(
            message_id=uuid.uuid4().hex,
            role=Role.ROLE_USER,
            parts=[ParseDict({"data": TASK}, Part())],
        )
        events = [
            MessageToDict(e) async for e in client.send_message(SendMessageRequest(message=message))
        ]
        task_id = next(iter(events[0].values()))["id"]
        task = MessageToDict(await client.get_task(GetTaskRequest(id=task_id)))
        await client.close()
    return events, task


async def get_task(url: str, task_id: str) -> dict[str, Any]:
    """The task as the server holds it (``GetTask`` through the SDK's client)."""
    async with httpx.AsyncClient() as http:
        client = await ClientFactory(ClientConfig(httpx_client=http)).create_from_url(url)
        task = MessageToDict(await client.get_task(GetTaskRequest(id=task_id)))
        await client.close()
    return task


# -- served over HTTP ---------------------------------------------------------------------


async def test_a_streaming_a2a_client_gets_the_text_as_chunks_of_the_answer_over_http() -> None:
    async with writer() as (agent, model), A2aHttpServer([agent]) as server:
        events, task = await sdk_send(server.url, streaming=True)
    assert model.requests[0].body.get("stream") is True  # stream=None: the client streams
    assert_streamed_as_chunks(events)
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert [a["parts"] for a in task["artifacts"]] == [[{"text": ANSWER}]]  # the answer once


async def test_a_blocking_send_message_gets_no_pieces_and_the_model_does_not_stream() -> None:
    async with writer() as (agent, model), A2aHttpServer([agent]) as server:
        _, task = await sdk_send(server.url, streaming=False)
    assert "stream" not in model.requests[0].body
    assert [a["parts"] for a in task["artifacts"]] == [[{"text": ANSWER}]]
    assert not task.get("history", [])[1:], "no working updates recorded"


async def test_an_agent_that_always_streams_sends_a_blocking_caller_no_pieces() -> None:
    async with writer(stream=True) as (agent, model), A2aHttpServer([agent]) as server:
        _, task = await sdk_send(server.url, streaming=False)
    assert model.requests[0].body.get("stream") is True
    assert [a["parts"] for a in task["artifacts"]] == [[{"text": ANSWER}]]
    assert not task.get("history", [])[1:], "no working updates recorded"


# -- served over MQTT ---------------------------------------------------------------------


async def test_a_streaming_request_gets_the_text_as_chunks_of_the_answer_over_mqtt(
    mqtt_broker_url: str,
) -> None:
    address = unique_address("writer")
    async with (
        writer() as (agent, model),
        serve_a2a_mqtt([agent], mqtt_broker_url, address, unregister=True),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        params = client.message(TASK)
        replies = await client.stream(address.request_topic, wire.SEND_STREAMING_MESSAGE, params)
        task_id = params["message"]["taskId"]
        held = await client.request(address.request_topic, wire.GET_TASK, {"id": task_id})
    assert model.requests[0].body.get("stream") is True
    assert_streamed_as_chunks([r.body["result"] for r in replies])
    task = held.body["result"]
    assert [a["parts"] for a in task["artifacts"]] == [[{"text": ANSWER}]]


async def test_a_blocking_mqtt_request_gets_no_pieces_and_the_model_does_not_stream(
    mqtt_broker_url: str,
) -> None:
    address = unique_address("writer")
    async with (
        writer() as (agent, model),
        serve_a2a_mqtt([agent], mqtt_broker_url, address, unregister=True),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        reply = await client.send_message(address.request_topic, TASK)
    assert "stream" not in model.requests[0].body
    task = reply.body["result"]["task"]
    assert task["status"] == {
        "state": "TASK_STATE_COMPLETED",
        "timestamp": task["status"]["timestamp"],
    }
    assert [a["parts"] for a in task["artifacts"]] == [[{"text": ANSWER}]]


# -- called: a run's listeners get a remote agent's text ---------------------------------


async def stream_remote(action: Any) -> tuple[str, Any]:
    """``action`` as a node of a streamed run: the text its listeners got, and the result."""
    wf = Workflow("remote-writer")
    wf.node("write", action, with_=TASK)
    stream = weft.stream_workflow(wf, record=False)
    pieces = [p async for e in stream if (p := weft.text_delta(e)) is not None]
    return "".join(pieces), stream.result


async def test_a_run_streams_an_a2a_agent_s_answer_as_it_comes_over_http() -> None:
    async with writer() as (agent, _), A2aHttpServer([agent]) as server:
        action = A2aAction(server.url, name="writer")
        try:
            streamed, result = await stream_remote(action)
        finally:
            await action.aclose()
    assert streamed == ANSWER
    assert result.ok, result.error
    assert result.outputs["write"] == {"text": ANSWER}


async def test_a_run_streams_an_a2a_agent_s_answer_as_it_comes_over_mqtt(
    mqtt_broker_url: str,
) -> None:
    address = unique_address("writer")
    async with (
        writer() as (agent, _),
        serve_a2a_mqtt([agent], mqtt_broker_url, address, unregister=True),
    ):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="writer")
        try:
            streamed, result = await stream_remote(action)
        finally:
            await action.aclose()
    assert streamed == ANSWER
    assert result.outputs["write"] == {"text": ANSWER}


async def test_a_run_nobody_watches_does_not_ask_the_a2a_agent_to_stream() -> None:
    events: list[RunEvent] = []
    async with writer() as (agent, model), A2aHttpServer([agent]) as server:
        action = A2aAction(server.url, name="writer")
        wf = Workflow("remote-writer")
        wf.node("write", action, with_=TASK)
        try:
            result = await run_workflow(wf, record=False, listeners=[events.append])
        finally:
            await action.aclose()
    assert result.outputs["write"] == {"text": ANSWER}
    assert "stream" not in model.requests[0].body
    assert not [e for e in events if weft.text_delta(e) is not None]


async def test_a_foreign_agent_s_artifact_chunks_are_streamed_text(mqtt_broker_url: str) -> None:
    """Another vendor's chunks (``append``) are text as they come; a whole artifact sent
    with ``lastChunk`` is the answer, not a piece of it."""
    address = unique_address("poet")

    def stream(request: dict[str, Any]) -> list[dict[str, Any]]:
        ids = {"taskId": request["params"]["message"]["taskId"], "contextId": "c"}

        def chunk(artifact: str, words: str, **flags: bool) -> dict[str, Any]:
            update = {**ids, "artifact": {"artifactId": artifact, "parts": [{"text": words}]}}
            return wire.jsonrpc_result(request["id"], {"artifactUpdate": {**update, **flags}})

        done = {**ids, "status": {"state": "TASK_STATE_COMPLETED"}}
        return [
            chunk("poem", "Rivers "),
            chunk("poem", "run.", append=True, lastChunk=True),
            chunk("note", "a footnote", lastChunk=True),
            wire.jsonrpc_result(request["id"], {"statusUpdate": done}),
        ]

    card = {**FOREIGN_CARD, "capabilities": {"streaming": True}}
    async with foreign_agent(mqtt_broker_url, address, stream, card=card):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="poet")
        call = ActionCall(action="poet", arguments={"text": "a poem"})
        recorder = Recorder(call)
        try:
            result = await action.invoke(call, recorder)
        finally:
            await action.aclose()
    assert [data for _, _, data in recorder.reports] == [
        {"stream": "text", "delta": "Rivers "},
        {"stream": "text", "delta": "run."},
    ]
    assert result.ok, result.error


async def test_text_streamed_before_a_question_is_not_part_of_the_answer_after_it() -> None:
    """Turn 1 streams "Let me check." and asks; the answer turn streams the answer. The
    task's artifact is the answer alone: the second turn's chunks replace the first's."""

    @tool
    def refund(order: str, ctx: ActionContext) -> str:
        """Refund an order once a person approves."""
        if ctx.ask(f"Refund {order}?", choices=["yes", "no"]) != "yes":
            return "declined"
        return f"refunded {order}"

    model = ScriptedModel(
        [tool_calls(("refund", {"order": "B2"}), content="Let me check."), text(ANSWER)]
    )
    async with OpenAIServer(model) as llm:
        support = LLMAgent("support", model="m", base_url=llm.base_url, tools=[refund])
        async with A2aHttpServer([support]) as server:
            action = A2aAction(server.url, name="support", skill="support")
            try:
                with stream_text():
                    first = await call_plain(action, {"task": "Refund B2."})
                    assert first.state is ActionState.NEEDS_INPUT, first.error
                    assert first.error is not None
                    turn: Any = first.error.details["a2a_task"]
                    second = await call_plain(action, {"text": "yes", "a2a_task": turn})
                held = await get_task(server.url, turn["taskId"])
            finally:
                await action.aclose()
    assert [r.body.get("stream") for r in model.requests] == [True, True]
    assert second.ok, second.error
    assert second.output == {"text": ANSWER}
    assert [a["parts"] for a in held["artifacts"]] == [[{"text": ANSWER}]]
