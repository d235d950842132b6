"""A person's answers across A2A: a served action asks, and an A2A agent is answered on resume.

A weft action served over A2A (HTTP and MQTT) that calls ``ctx.ask`` leaves its
task ``input-required`` with the question, its choices in weft's metadata; the
next message to the task is the answer. A workflow node calling an A2A agent
(weft's or another vendor's) ends ``needs_input`` with the agent's question,
and ``resume_run(answers=...)`` (``weft resume --answer``) finishes it: the
node starts a new task and replays the answers, one turn each, as a local
action replays its ``ctx.ask``s. Real Mosquitto for the MQTT leg.
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
    # the agent's action ran from its start each turn, with the answers so far
    assert turns == [[], [], ["yes"], [], ["yes"], ["yes", "Sorry!"]]


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
    # the resumed node opened a new task and answered it: two turns of that task
    (first_task, _, _), (task, _, text), (again, _, answer) = desk.turns
    assert task == again != first_task and (text, answer) == ("a trip to Oslo", "Friday")
