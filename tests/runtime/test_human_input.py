"""An action asks a person (``ctx.ask``); the run stops ``needs_input``; resuming answers it.

Tools are plain ``def`` functions (run in worker threads) and ``async def``
ones, as users write them. What finished before the question is served from
the journal on resume; the asking node runs again from its start and gets the
answers given so far, in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from weft import ActionContext, NeedsInput, RetryPolicy, RunState, WeftError, Workflow, tool
from weft.protocols import ActionState, NodeState
from weft.protocols.human_input import question_of
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine.answers import waiting_questions


def refund_workflow(calls: list[str]) -> Workflow:
    @tool
    def draft(order: str) -> str:
        calls.append("draft")
        return f"refund $420 for {order}"

    @tool
    def approve(text: str, ctx: ActionContext) -> str:
        calls.append("approve")
        verdict = ctx.ask(f"Approve the {text}?", choices=["yes", "no"])
        if verdict != "yes":
            return "rejected"
        note = ctx.ask("A note for the customer?")
        return f"approved {text}: {note}"

    wf = Workflow("refund")
    wf.input("order")
    wf.node("draft", draft, with_={"order": "${inputs.order}"})
    wf.node("approve", approve, after=["draft"], with_={"text": "${draft}"})
    wf.output("result", "${approve}")
    return wf


async def test_a_question_stops_the_run_and_answers_finish_it(tmp_path: Path) -> None:
    calls: list[str] = []
    wf = refund_workflow(calls)
    journal = Journal(tmp_path / "journal.db")

    stopped = await run_workflow(wf, {"order": "#7"}, journal=journal, tracer=False)
    assert stopped.state is RunState.NEEDS_INPUT
    node = stopped.nodes["approve"]
    assert node.state is NodeState.NEEDS_INPUT
    assert question_of(node.error) == {
        "question": "Approve the refund $420 for #7?",
        "choices": ["yes", "no"],
        "index": 0,
    }
    assert journal.get_run(stopped.run_id).state is RunState.NEEDS_INPUT

    second = await resume_run(
        stopped.run_id, journal=journal, definition=wf, answers={"approve": "yes"}, tracer=False
    )
    assert second.state is RunState.NEEDS_INPUT  # its second question
    assert question_of(second.nodes["approve"].error)["question"] == "A note for the customer?"  # type: ignore[index]

    done = await resume_run(
        stopped.run_id,
        journal=journal,
        definition=wf,
        answers={"approve": "sorry for the wait"},
        tracer=False,
    )
    assert done.state is RunState.SUCCEEDED
    assert done.outputs == {"result": "approved refund $420 for #7: sorry for the wait"}
    assert done.nodes["draft"].cached
    assert calls == ["draft", "approve", "approve", "approve"]  # draft never ran again
    assert journal.answers(stopped.run_id) == {"approve": ["yes", "sorry for the wait"]}


async def test_an_answer_that_cannot_be_taken_changes_nothing(tmp_path: Path) -> None:
    calls: list[str] = []
    wf = refund_workflow(calls)
    journal = Journal(tmp_path / "journal.db")
    stopped = await run_workflow(wf, {"order": "#8"}, journal=journal, tracer=False)

    with pytest.raises(WeftError, match=r"'maybe' is not one of the choices: 'yes', 'no'"):
        await resume_run(
            stopped.run_id, journal=journal, definition=wf, answers={"approve": "maybe"}
        )
    with pytest.raises(WeftError, match=r"'aprove' is not waiting .*did you mean 'approve'\?"):
        await resume_run(stopped.run_id, journal=journal, definition=wf, answers={"aprove": "yes"})
    with pytest.raises(WeftError, match=r"'draft' is not waiting for an answer"):
        await resume_run(stopped.run_id, journal=journal, definition=wf, answers={"draft": "x"})

    assert journal.answers(stopped.run_id) == {}
    assert calls == ["draft", "approve"]  # nothing ran
    assert journal.get_run(stopped.run_id).state is RunState.NEEDS_INPUT
    assert journal.live_lease(stopped.run_id) is None  # nor was the run taken
    rejected = await resume_run(
        stopped.run_id, journal=journal, definition=wf, answers={"approve": "no"}, tracer=False
    )
    assert rejected.outputs == {"result": "rejected"}


async def test_an_async_tool_raising_needs_input_is_not_retried(tmp_path: Path) -> None:
    attempts: list[list[Any]] = []

    @tool
    async def account(ctx: ActionContext) -> str:
        attempts.append(list(ctx.call.answers))
        if not ctx.call.answers:
            raise NeedsInput("Which account should be charged?")
        return f"charged {ctx.call.answers[0]}"

    wf = Workflow("charge")
    wf.node("account", account, retry=RetryPolicy(max_attempts=4, initial_delay=0))
    journal = Journal(tmp_path / "journal.db")
    stopped = await run_workflow(wf, journal=journal, tracer=False)
    assert stopped.state is RunState.NEEDS_INPUT
    assert attempts == [[]]  # a question is not a failure: no retry
    done = await resume_run(
        stopped.run_id, journal=journal, definition=wf, answers={"account": 4711}, tracer=False
    )
    assert done.nodes["account"].output == "charged 4711"


async def test_foreach_items_are_answered_by_their_key(tmp_path: Path) -> None:
    @tool
    def check(name: str, ctx: ActionContext) -> str:
        if name.startswith("?"):
            return f"{name}: {ctx.ask(f'Is {name} a real customer?', choices=[True, False])}"
        return name

    wf = Workflow("customers")
    wf.input("names", type="array")
    wf.node("check", check, foreach="${inputs.names}", with_={"name": "${item}"})
    journal = Journal(tmp_path / "journal.db")
    stopped = await run_workflow(
        wf, {"names": ["ada", "?bob", "?cy"]}, journal=journal, tracer=False
    )
    assert stopped.state is RunState.NEEDS_INPUT
    assert sorted(waiting_questions(journal, stopped.run_id)) == ["check[1]", "check[2]"]

    with pytest.raises(
        WeftError, match=r"node 'check' waits on 2 questions \(check\[1\], check\[2\]\)"
    ):
        await resume_run(stopped.run_id, journal=journal, definition=wf, answers={"check": True})
    done = await resume_run(
        stopped.run_id,
        journal=journal,
        definition=wf,
        answers={"check[1]": True, "check[2]": False},
        tracer=False,
    )
    assert done.state is RunState.SUCCEEDED
    assert done.nodes["check"].output == ["ada", "?bob: True", "?cy: False"]


async def test_a_question_inside_a_sub_workflow_is_answered_by_its_path(tmp_path: Path) -> None:
    @tool
    def sign(ctx: ActionContext) -> str:
        return f"signed by {ctx.ask('Who signs?')}"

    inner = Workflow("inner")
    inner.node("sign", sign)
    inner.output("who", "${sign}")
    outer = Workflow("outer")
    outer.node("contract", inner)
    journal = Journal(tmp_path / "journal.db")
    stopped = await run_workflow(outer, journal=journal, tracer=False)
    assert stopped.state is RunState.NEEDS_INPUT
    assert list(waiting_questions(journal, stopped.run_id)) == ["contract/sign"]
    done = await resume_run(
        stopped.run_id,
        journal=journal,
        definition=outer,
        answers={"contract/sign": "Ada"},
        tracer=False,
    )
    assert done.nodes["contract"].output == {"who": "signed by Ada"}


async def test_a_run_without_questions_refuses_answers(tmp_path: Path) -> None:
    @tool
    def broken() -> None:
        raise RuntimeError("down")

    wf = Workflow("plain")
    wf.node("broken", broken)
    journal = Journal(tmp_path / "journal.db")
    failed = await run_workflow(wf, journal=journal, tracer=False)
    with pytest.raises(WeftError, match=r"no node of this run is waiting for an answer"):
        await resume_run(failed.run_id, journal=journal, definition=wf, answers={"broken": 1})


async def test_ask_outside_a_run_ends_the_call_needs_input() -> None:
    @tool
    def confirm(ctx: ActionContext) -> str:
        return str(ctx.ask("Sure?"))

    from weft.protocols import ActionCall
    from weft.runtime.teams.local_context import LocalContext

    call = ActionCall(action="confirm")
    result = await confirm.invoke(call, LocalContext(call))
    assert result.state is ActionState.NEEDS_INPUT
    assert result.error is not None and result.error.details["question"] == "Sure?"
    answered = ActionCall(action="confirm", answers=["yes"])
    assert (await confirm.invoke(answered, LocalContext(answered))).output == "yes"
