"""Streaming progress and multi-turn tasks over A2A, weft to weft, over HTTP and over MQTT.

A served tool's ``ctx.progress`` reports become ``working`` status updates of its
A2A task on a streaming request; weft's A2A actions pass them on to the caller's
``ctx.progress`` while the call runs. An agent whose card says no streaming is
still called with one blocking request. A task that wants input is continued with
the answer under the same task and context ids. Real Mosquitto, a unit per test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import Message, Part, Role, SendMessageRequest, Task, TaskState, TaskStatus
from google.protobuf.json_format import MessageToDict
from starlette.applications import Starlette

from weft import Workflow, run_workflow
from weft.agents import A2aMqttAction
from weft.agents.a2a_action import A2aAction
from weft.protocols import ActionCall, ActionResult, ActionState, EventKind, RunEvent
from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import TASK_DETAILS, a2a_agent_card, a2a_interface
from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt
from weft.runtime.interop.a2a_server import A2aHttpServer
from weft.runtime.interop.a2a_validate import agent_card_proto
from weft.testing.a2a_mqtt_client import A2aMqttClient

from .a2a_tools import Recorder, echo, stepping_tool
from .test_a2a_mqtt_action import FOREIGN_CARD, foreign_agent, unique_address, url_of

WAIT = 5.0
STEPS = [(f"step {i} of 3", i / 3, {"step": i}) for i in (1, 2, 3)]


@pytest.fixture
def steps() -> Iterator[tuple[Any, Any]]:
    tool, release = stepping_tool()
    yield tool, release
    release.set()  # a failed test must not leave a worker thread waiting


async def call_live(action: Any, arguments: dict[str, Any], release: Any) -> tuple[Any, Recorder]:
    """Call ``action``; release the tool only once the caller has its three reports (so
    they came while the call ran, not with its result); the result and the reports."""
    call = ActionCall(action=action.spec.name, arguments=arguments)
    recorder = Recorder(call)
    pending = asyncio.create_task(action.invoke(call, recorder))
    try:
        await asyncio.wait_for(recorder.reported.wait(), WAIT)
    finally:
        release.set()
    return await asyncio.wait_for(pending, WAIT), recorder


# -- over HTTP ---------------------------------------------------------------------------


async def test_progress_reaches_the_caller_live_over_http(steps: tuple[Any, Any]) -> None:
    tool, release = steps
    async with A2aHttpServer([tool]) as server:
        action = A2aAction(server.url, name="steps")
        try:
            result, recorder = await call_live(action, {"text": "hello"}, release)
        finally:
            await action.aclose()
    assert action.card is not None and action.card["capabilities"]["streaming"] is True
    assert recorder.reports == STEPS
    assert result.ok, result.error
    assert result.output == {"text": "HELLO"}


async def test_the_sdk_s_streaming_client_sees_working_status_updates(
    steps: tuple[Any, Any],
) -> None:
    tool, release = steps
    release.set()
    async with A2aHttpServer([tool]) as server, httpx.AsyncClient() as http:
        client = await ClientFactory(
            ClientConfig(httpx_client=http, streaming=True)
        ).create_from_url(server.url)
        message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text="x")])
        events = [
            MessageToDict(e) async for e in client.send_message(SendMessageRequest(message=message))
        ]
    statuses = [e["statusUpdate"]["status"] for e in events if "statusUpdate" in e]
    working = [
        s["message"]["parts"][0]["text"] for s in statuses if s["state"] == "TASK_STATE_WORKING"
    ]
    assert working == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert statuses[-1]["state"] == "TASK_STATE_COMPLETED"
    assert statuses[0]["message"]["metadata"]["weftProgress"] == {
        "fraction": 1 / 3,
        "data": {"step": 1.0},
    }


async def test_an_agent_whose_card_says_no_streaming_gets_one_blocking_request(
    steps: tuple[Any, Any],
) -> None:
    tool, release = steps
    release.set()
    async with A2aHttpServer([tool]) as server:
        async with httpx.AsyncClient() as http:
            card = (await http.get(server.url + ".well-known/agent-card.json")).json()
        card["capabilities"]["streaming"] = False
        action = A2aAction(server.url, name="steps", card=card)
        call = ActionCall(action="steps", arguments={"text": "quiet"})
        recorder = Recorder(call)
        try:
            result = await action.invoke(call, recorder)
        finally:
            await action.aclose()
    assert result.ok, result.error
    assert result.output == {"text": "QUIET"}
    assert recorder.reports == []  # a blocking answer carries no live progress


async def test_a_workflow_node_calling_an_a2a_agent_shows_its_progress(
    steps: tuple[Any, Any],
) -> None:
    tool, release = steps
    release.set()
    events: list[RunEvent] = []
    async with A2aHttpServer([tool]) as server:
        action = A2aAction(server.url, name="steps")
        wf = Workflow("a2a-progress")
        wf.node("shout", action, with_={"text": "wf"})
        try:
            result = await run_workflow(wf, record=False, listeners=[events.append])
        finally:
            await action.aclose()
    assert result.ok, result.error
    assert result.outputs["shout"] == {"text": "WF"}
    progress = [e.data for e in events if e.kind is EventKind.PROGRESS and e.node == "shout"]
    assert progress == [{"message": m, "fraction": f, **data} for m, f, data in STEPS]


# -- over MQTT ---------------------------------------------------------------------------


async def test_progress_reaches_the_caller_live_over_mqtt(
    mqtt_broker_url: str, steps: tuple[Any, Any]
) -> None:
    tool, release = steps
    address = unique_address("steps")
    async with serve_a2a_mqtt([tool], mqtt_broker_url, address, unregister=True):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="steps")
        try:
            result, recorder = await call_live(action, {"text": "hello"}, release)
        finally:
            await action.aclose()
    assert recorder.reports == STEPS
    assert result.ok, result.error
    assert result.output == {"text": "HELLO"}


async def test_the_mqtt_stream_carries_progress_before_the_artifact_and_final_status(
    mqtt_broker_url: str, steps: tuple[Any, Any]
) -> None:
    tool, release = steps
    release.set()
    address = unique_address("steps")
    async with (
        serve_a2a_mqtt([tool], mqtt_broker_url, address, unregister=True),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        params = client.message({"text": "x"})
        replies = await client.stream(address.request_topic, wire.SEND_STREAMING_MESSAGE, params)
    kinds = [next(iter(r.body["result"])) for r in replies]
    assert kinds == [
        "task",
        "statusUpdate",
        "statusUpdate",
        "statusUpdate",
        "artifactUpdate",
        "statusUpdate",
    ]
    texts = [
        r.body["result"]["statusUpdate"]["status"]["message"]["parts"][0]["text"]
        for r in replies[1:4]
    ]
    assert texts == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert replies[-1].body["result"]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_an_mqtt_agent_whose_card_says_no_streaming_gets_send_message(
    mqtt_broker_url: str,
) -> None:
    address = unique_address("desk")
    methods: list[str] = []

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        methods.append(request["method"])
        message = request["params"]["message"]
        artifact = {"artifactId": "a", "parts": message["parts"]}
        status = {"state": "TASK_STATE_COMPLETED"}
        task = {
            "id": message["taskId"],
            "contextId": "c",
            "status": status,
            "artifacts": [artifact],
        }
        return wire.jsonrpc_result(request["id"], {"task": task})

    async with foreign_agent(mqtt_broker_url, address, answer):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="desk")
        call = ActionCall(action="desk", arguments={"text": "plain"})
        try:
            result = await action.invoke(call, Recorder(call))
        finally:
            await action.aclose()
    assert methods == [wire.SEND_MESSAGE]
    assert result.ok, result.error
    assert result.output == {"text": "plain"}


async def test_a_weft_agent_over_mqtt_still_answers_a_blocking_send_message(
    mqtt_broker_url: str,
) -> None:
    address = unique_address("echo")
    async with (
        serve_a2a_mqtt([echo], mqtt_broker_url, address, unregister=True),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        reply = await client.send_message(address.request_topic, {"text": "once"})
    task = reply.body["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"


# -- a second turn -----------------------------------------------------------------------


async def test_a_task_that_wants_input_is_continued_with_the_answer_over_mqtt(
    mqtt_broker_url: str,
) -> None:
    address = unique_address("desk")
    seen: list[dict[str, Any]] = []

    def desk(request: dict[str, Any]) -> dict[str, Any]:
        message = request["params"]["message"]
        seen.append(message)
        if len(seen) == 1:
            question = {"role": "ROLE_AGENT", "messageId": "q", "parts": [{"text": "When?"}]}
            status = {"state": "TASK_STATE_INPUT_REQUIRED", "message": question}
            task = {"id": message["taskId"], "contextId": "trip-1", "status": status}
        else:
            booked = {
                "artifactId": "a",
                "parts": [{"text": f"booked for {message['parts'][0]['text']}"}],
            }
            status = {"state": "TASK_STATE_COMPLETED"}
            task = {
                "id": message["taskId"],
                "contextId": "trip-1",
                "status": status,
                "artifacts": [booked],
            }
        return wire.jsonrpc_result(request["id"], {"task": task})

    async with foreign_agent(mqtt_broker_url, address, desk):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="desk")
        try:
            first = await call_plain(action, {"text": "a trip to Oslo"})
            assert first.state is ActionState.NEEDS_INPUT and first.error is not None
            turn = first.error.details[TASK_DETAILS]
            second = await call_plain(action, {"text": "Friday", TASK_DETAILS: turn})
        finally:
            await action.aclose()
    assert turn == {"taskId": seen[0]["taskId"], "contextId": "trip-1"}
    assert (seen[1]["taskId"], seen[1]["contextId"]) == (seen[0]["taskId"], "trip-1")
    assert seen[1]["parts"] == [{"text": "Friday"}]
    assert second.ok, second.error
    assert second.output == {"text": "booked for Friday"}


async def test_a_malformed_a2a_task_argument_is_an_error_naming_it(mqtt_broker_url: str) -> None:
    action = A2aMqttAction(url_of(mqtt_broker_url, unique_address("desk")), name="desk")
    try:
        result = await call_plain(action, {"text": "x", TASK_DETAILS: "not an object"})
    finally:
        await action.aclose()
    assert result.state is ActionState.ERROR and result.error is not None
    assert (result.error.type, result.error.field) == ("ValidationError", TASK_DETAILS)
    assert "error.details.a2a_task" in result.error.message


async def call_plain(action: Any, arguments: dict[str, Any]) -> ActionResult:
    call = ActionCall(action=action.spec.name, arguments=arguments)
    result: ActionResult = await action.invoke(call, Recorder(call))
    return result


class TravelDesk(AgentExecutor):
    """A foreign A2A agent on ``a2a-sdk``'s server: asks when, then books for the answer."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str, str]] = []

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None
        task_id, context_id = context.task_id or "", context.context_id or ""
        text = context.message.parts[0].text
        self.turns.append((task_id, context_id, text))
        updater = TaskUpdater(event_queue, task_id, context_id)
        if context.current_task is None:
            await event_queue.enqueue_event(
                Task(
                    id=task_id,
                    context_id=context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                    history=[context.message],
                )
            )
            await updater.requires_input(updater.new_agent_message([Part(text="When?")]))
            return
        await updater.add_artifact([Part(text=f"booked for {text}")], name="booking")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


class DeskServer(A2aHttpServer):
    def __init__(self, desk: TravelDesk) -> None:
        super().__init__([echo])
        self.desk = desk

    def app(self) -> Any:
        card = a2a_agent_card(
            "desk", [echo.spec], interfaces=[a2a_interface(self.url)], streaming=True
        )
        card["skills"][0]["id"] = card["skills"][0]["name"] = "book"
        proto = agent_card_proto(card)
        handler = DefaultRequestHandler(
            agent_executor=self.desk, task_store=InMemoryTaskStore(), agent_card=proto
        )
        routes = [*create_agent_card_routes(proto), *create_jsonrpc_routes(handler, rpc_url="/")]
        return Starlette(routes=routes)


async def test_a_task_that_wants_input_is_continued_with_the_answer_over_http() -> None:
    desk = TravelDesk()
    async with DeskServer(desk) as server:
        action = A2aAction(server.url, name="desk")
        try:
            first = await call_plain(action, {"text": "a trip to Oslo"})
            assert first.state is ActionState.NEEDS_INPUT and first.error is not None
            assert first.error.message == "desk: When?"
            turn = first.error.details[TASK_DETAILS]
            second = await call_plain(action, {"text": "Friday", TASK_DETAILS: turn})
        finally:
            await action.aclose()
    (task_id, context_id, _), again = desk.turns
    assert turn == {"taskId": task_id, "contextId": context_id}
    assert again == (task_id, context_id, "Friday")
    assert second.ok, second.error
    assert second.output == {"text": "booked for Friday"}


async def test_a_workflow_sends_the_answer_to_the_waiting_task(tmp_path: Path) -> None:
    """The first run ends needs_input with the task in the node's error; a second run gives
    the answer and that task as inputs (what `weft run --input-file` would)."""
    desk = TravelDesk()
    path = tmp_path / "book.yaml"
    async with DeskServer(desk) as server:
        path.write_text(
            f"""
name: book
inputs:
  text: {{type: string}}
  a2a_task: {{type: object, default: null}}
actions:
  desk: {{a2a: "{server.url}"}}
nodes:
  book:
    action: desk
    with: {{text: "${{inputs.text}}", a2a_task: "${{inputs.a2a_task}}"}}
"""
        )
        first = await run_workflow(str(path), {"text": "a trip to Oslo"}, record=False)
        error = first.nodes["book"].error
        assert first.state.value == "needs_input" and error is not None
        turn = error.details[TASK_DETAILS]
        second = await run_workflow(str(path), {"text": "Friday", "a2a_task": turn}, record=False)
    assert second.ok, second.error
    assert second.outputs["book"] == {"text": "booked for Friday"}
    assert desk.turns[1] == (turn["taskId"], turn["contextId"], "Friday")


# -- a foreign agent's stream ------------------------------------------------------------


async def test_a_foreign_streaming_agent_s_status_texts_and_artifact_chunks(
    mqtt_broker_url: str,
) -> None:
    """Another vendor's stream: working statuses with text only (no weft metadata) are
    progress without a fraction; artifact chunks are streamed text, in order with the
    statuses, and their text continues (``append``) into the output, as it was streamed."""
    address = unique_address("desk")
    methods: list[str] = []

    def stream(request: dict[str, Any]) -> list[dict[str, Any]]:
        methods.append(request["method"])
        ids = {"taskId": request["params"]["message"]["taskId"], "contextId": "c"}

        def status(state: str, text: str | None = None) -> dict[str, Any]:
            found: dict[str, Any] = {"state": state}
            if text is not None:
                found["message"] = {
                    "role": "ROLE_AGENT",
                    "messageId": text,
                    "parts": [{"text": text}],
                }
            return wire.jsonrpc_result(request["id"], {"statusUpdate": {**ids, "status": found}})

        def chunk(text: str, append: bool) -> dict[str, Any]:
            artifact = {"artifactId": "a", "parts": [{"text": text}]}
            update = {**ids, "artifact": artifact, "append": append}
            return wire.jsonrpc_result(request["id"], {"artifactUpdate": update})

        return [
            status("TASK_STATE_WORKING"),
            status("TASK_STATE_WORKING", "searching flights"),
            chunk("Oslo, ", False),
            status("TASK_STATE_WORKING", "holding a seat"),
            chunk("Fri", True),
            chunk("day", True),
            status("TASK_STATE_COMPLETED"),
        ]

    card = {**FOREIGN_CARD, "capabilities": {"streaming": True}}
    async with foreign_agent(mqtt_broker_url, address, stream, card=card):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="desk")
        call = ActionCall(action="desk", arguments={"text": "a trip"})
        recorder = Recorder(call)
        try:
            result = await action.invoke(call, recorder)
        finally:
            await action.aclose()
    assert methods == [wire.SEND_STREAMING_MESSAGE]
    assert recorder.reports == [
        ("searching flights", None, {}),
        ("", None, {"stream": "text", "delta": "Oslo, "}),
        ("holding a seat", None, {}),
        ("", None, {"stream": "text", "delta": "Fri"}),
        ("", None, {"stream": "text", "delta": "day"}),
    ]
    assert result.ok, result.error
    assert result.output == {"text": "Oslo, Friday"}  # the pieces of one text, as streamed
