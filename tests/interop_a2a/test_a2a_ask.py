"""A person's answers across A2A: a served action asks, and an A2A agent is answered on resume.

A weft action served over A2A (HTTP and MQTT) that calls ``ctx.ask`` leaves its
task ``input-required`` with the question, its choices in weft's metadata; the
next message to the task is the answer. A workflow node calling an A2A agent
(weft's or another vendor's) ends ``needs_input`` with the agent's question,
and ``resume_run(answers=...)`` (``weft resume --answer``) finishes it: the
node sends the answer to the task it left waiting (saved in its
``resume_state``); an agent that no longer has the task gets a new one and the
answers replayed, one turn each. Real Mosquitto for the MQTT leg.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from weft import ActionContext, RunState, WeftError, Workflow, tool
from weft.agents import A2aMqttAction
from weft.agents.a2a_action import A2aAction
from weft.protocols import ActionState
from weft.protocols.human_input import question_of
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt
from weft.runtime.interop.a2a_server import A2aHttpServer

from .test_a2a_mqtt_action import unique_address, url_of
from .test_a2a_streaming import DeskServer, TravelDesk, call_plain

turns: list[list[Any]] = []


@tool
def refund(order: str, ctx: ActionContext) -> str:
    """Refunds an order once a person approves it and leaves a note."""
    turns.append(list(ctx.call.answers))
    if ctx.ask(f"Refund {order}?", choices=["yes", "no"]) != "yes":
        return f"{order} kept"
    return f"{order} refunded: {ctx.ask('Note for the customer?')}"


def workflow(action: Any) -> Workflow:
    wf = Workflow("refund-remote")
    wf.node("refund", action, with_={"order": "#12"})
    wf.output("done", "${refund}")
    return wf


async def ask_and_answer(action: Any, tmp_path: Path) -> None:
    """Run, answer the two questions by resuming twice, check what the agent saw."""
    turns.clear()
    wf = workflow(action)
    journal = Journal(tmp_path / "journal.db")
    stopped = await run_workflow(wf, journal=journal, tracer=False)
    assert stopped.state is RunState.NEEDS_INPUT
    asked = question_of(stopped.nodes["refund"].error)
    assert asked == {"question": "Refund #12?", "choices": ["yes", "no"], "index": 0}

    with pytest.raises(WeftError, match="'perhaps' is not one of the choices"):
        await resume_run(
            stopped.run_id, journal=journal, definition=wf, answers={"refund": "perhaps"}
        )
    second = await resume_run(
        stopped.run_id, journal=journal, definition=wf, answers={"refund": "yes"}, tracer=False
    )
    asked = question_of(second.nodes["refund"].error)
    assert asked == {"question": "Note for the customer?", "choices": None, "index": 1}
    done = await resume_run(
        stopped.run_id, journal=journal, definition=wf, answers={"refund": "Sorry!"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.outputs == {"done": {"text": "#12 refunded: Sorry!"}}
    # each resume sent its answer to the task left waiting: the agent's action was
    # called once per turn, with the answers so far (no new task replaying them)
    assert turns == [[], ["yes"], ["yes", "Sorry!"]]


async def test_a_served_action_asks_over_http_and_is_answered_on_resume(tmp_path: Path) -> None:
    async with A2aHttpServer([refund]) as server:
        action = A2aAction(server.url, name="refund")
        try:
            await ask_and_answer(action, tmp_path)
        finally:
            await action.aclose()


async def test_a_served_action_asks_over_mqtt_and_is_answered_on_resume(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    address = unique_address("refunds")
    async with serve_a2a_mqtt([refund], mqtt_broker_url, address, unregister=True):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="refund")
        try:
            await ask_and_answer(action, tmp_path)
        finally:
            await action.aclose()


async def test_the_next_message_to_an_asking_task_is_its_answer() -> None:
    """A plain A2A client continues the task by hand (``a2a_task``), as any vendor's would."""
    async with A2aHttpServer([refund]) as server:
        action = A2aAction(server.url, name="refund")
        try:
            first = await call_plain(action, {"order": "#3"})
            assert first.state is ActionState.NEEDS_INPUT and first.error is not None
            task = first.error.details["a2a_task"]
            second = await call_plain(action, {"text": "no", "a2a_task": task})
        finally:
            await action.aclose()
    assert second.ok, second.error
    assert second.output == {"text": "#3 kept"}


async def test_a_foreign_agent_s_question_is_answered_on_resume(tmp_path: Path) -> None:
    desk = TravelDesk()
    async with DeskServer(desk) as server:
        action = A2aAction(server.url, name="desk")
        try:
            wf = Workflow("trip")
            wf.node("book", action, with_={"text": "a trip to Oslo"})
            journal = Journal(tmp_path / "journal.db")
            stopped = await run_workflow(wf, journal=journal, tracer=False)
            assert stopped.state is RunState.NEEDS_INPUT
            asked = question_of(stopped.nodes["book"].error)
            assert asked == {"question": "When?", "choices": None, "index": 0}
            done = await resume_run(
                stopped.run_id, journal=journal, definition=wf, answers={"book": "Friday"}
            )
        finally:
            await action.aclose()
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.nodes["book"].output == {"text": "booked for Friday"}
    # the resumed node sent the answer to the task it had left waiting: two turns of one task
    (task, _, text), (again, _, answer) = desk.turns
    assert task == again and (text, answer) == ("a trip to Oslo", "Friday")


class ForgetfulDeskServer(DeskServer):
    """The desk, with a task store the test can empty (an agent restarted in between)."""

    def app(self) -> Any:
        from a2a.server.request_handlers import DefaultRequestHandler
        from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
        from a2a.server.tasks import InMemoryTaskStore
        from starlette.applications import Starlette

        from weft.protocols.a2a import a2a_agent_card, a2a_interface
        from weft.runtime.interop.a2a_validate import agent_card_proto

        from .a2a_tools import echo

        card = a2a_agent_card(
            "desk", [echo.spec], interfaces=[a2a_interface(self.url)], streaming=True
        )
        card["skills"][0]["id"] = card["skills"][0]["name"] = "book"
        proto = agent_card_proto(card)
        self.store = InMemoryTaskStore()
        handler = DefaultRequestHandler(
            agent_executor=self.desk, task_store=self.store, agent_card=proto
        )
        routes = [*create_agent_card_routes(proto), *create_jsonrpc_routes(handler, rpc_url="/")]
        return Starlette(routes=routes)


async def test_an_agent_that_lost_the_waiting_task_gets_a_new_one_with_the_answers(
    tmp_path: Path,
) -> None:
    from a2a.server.context import ServerCallContext

    desk = TravelDesk()
    async with ForgetfulDeskServer(desk) as server:
        action = A2aAction(server.url, name="desk")
        try:
            wf = Workflow("trip")
            wf.node("book", action, with_={"text": "a trip to Oslo"})
            journal = Journal(tmp_path / "journal.db")
            stopped = await run_workflow(wf, journal=journal, tracer=False)
            assert stopped.state is RunState.NEEDS_INPUT
            ((lost, _, _),) = desk.turns
            await server.store.delete(lost, ServerCallContext())
            done = await resume_run(
                stopped.run_id, journal=journal, definition=wf, answers={"book": "Friday"}
            )
        finally:
            await action.aclose()
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.nodes["book"].output == {"text": "booked for Friday"}
    (_, _, _), (task, _, text), (again, _, answer) = desk.turns
    assert task == again != lost and (text, answer) == ("a trip to Oslo", "Friday")
