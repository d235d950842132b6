"""A resumed team calls only the member that asked; turns that asked nothing are replayed.

A team resumed with answers holds its conversation again from its start. It
used to call every member again on the way: each turn before the question
was made a second time (a Python member's side effects, an LLM member's
model requests, an assigned task's work). The team's stopped state now keeps
the results of the member calls that finished asking nothing, and the
resumed team gives each the result it had, by its place in the conversation,
its member and its arguments, so only the member that asked is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weft import ActionContext, RunState, Workflow, tool
from weft.protocols import ActionResult
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.teams import Cluster, Team
from weft.runtime.teams.member_resume import MemberState, digest, saved_reply


def planners(said: list[str]) -> Workflow:
    """carol assigns a sync task to bob, bob speaks, alice asks; after her answer bob asks."""

    @tool
    def carol(task: str, context: dict[str, Any]) -> Any:
        said.append(f"carol {context['mode']} {context['turn']}")
        job = {"id": "facts", "to": "bob", "task": "find facts", "mode": "sync"}
        return {"act": "assign", "text": "bob, facts please", "tasks": [job], "to": "bob"}

    @tool
    async def bob(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        said.append(f"bob {context['mode']} {context['turn']}")
        if context["mode"] == "task":
            return "three facts"
        if context["turn"] == 2:
            return {"act": "speak", "text": "facts are in", "to": "alice"}
        deadline = ctx.ask("Which deadline?", choices=["june", "july"])
        return {"act": "conclude", "text": f"budget and deadline {deadline}"}

    @tool
    def alice(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        said.append(f"alice {context['mode']} {context['turn']}")
        budget = ctx.ask("What is the budget?")
        return {"act": "speak", "text": f"budget {budget}", "to": "bob"}

    wf = Workflow("plan")
    team = Team("planners", [carol, bob, alice], max_turns=6)
    wf.node("discuss", team, with_={"task": "plan"})
    wf.output("plan", "${discuss.conclusion}")
    return wf


async def test_only_the_member_that_asked_is_called_again(tmp_path: Path) -> None:
    said: list[str] = []
    wf = planners(said)
    journal = Journal(tmp_path / "journal.db")

    first = await run_workflow(wf, journal=journal, tracer=False)
    assert first.state is RunState.NEEDS_INPUT
    assert said == ["carol turn 1", "bob task 1", "bob turn 2", "alice turn 3"]

    said.clear()
    second = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"discuss": "5k"}, tracer=False
    )
    assert second.state is RunState.NEEDS_INPUT
    # carol's turn, bob's task and bob's turn were replayed; alice got her answer at once
    assert said == ["alice turn 3", "bob turn 4"]

    said.clear()
    done = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"discuss": "july"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.outputs == {"plan": "budget and deadline july"}
    # the replies replayed in the second run were kept for the third, alice's answered
    # turn too (it takes its answer again, in its place); bob gets his answer at once
    assert said == ["bob turn 4"]


async def test_a_resumed_cluster_does_not_draft_again(tmp_path: Path) -> None:
    said: list[str] = []

    @tool
    def ada(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        said.append(f"ada {context['mode']}")
        if context["mode"] == "refine":
            return context["own"] + " " + ctx.ask("Tone?")
        return context.get("subtask", "synthesis")

    @tool
    def ben(task: str, context: dict[str, Any]) -> Any:
        said.append(f"ben {context['mode']}")
        if context["mode"] == "synthesize":
            return " + ".join(o["output"] for o in context["outputs"])
        return context.get("own") or context["subtask"]

    wf = Workflow("review")
    cluster = Cluster("reviews", [ada, ben], rounds=1, synthesizer=ben)
    wf.node("refine", cluster, with_={"task": "review", "subtasks": ["api", "db"]})
    wf.output("post", "${refine.synthesis}")
    journal = Journal(tmp_path / "journal.db")
    first = await run_workflow(wf, journal=journal, tracer=False)
    assert first.state is RunState.NEEDS_INPUT
    assert sorted(said) == ["ada draft", "ada refine", "ben draft", "ben refine"]

    said.clear()
    done = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"refine": "dry"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.outputs == {"post": "api dry + db"}
    assert said == ["ada refine", "ben synthesize"]


def _state(result: ActionResult) -> MemberState:
    arguments = {"task": "t", "context": {"turn": 1}}
    reply = saved_reply(1, "bob", digest(arguments), result)
    assert reply is not None
    from weft.protocols import ErrorInfo

    return MemberState(
        team="t",
        member="alice",
        number=2,
        arguments="x",
        given=0,
        question=ErrorInfo(type="NeedsInput", message="?"),
        replies=[reply],
    )


def test_a_saved_reply_is_replayed_only_for_the_same_call() -> None:
    state = _state(ActionResult.success("c1", {"act": "speak", "text": "hi"}))
    same = {"task": "t", "context": {"turn": 1, "conversation": "another-id"}}
    replayed = state.replayed(1, "bob", same)
    assert replayed is not None
    outcome = replayed.outcome(())
    assert outcome is not None and outcome.output == {"act": "speak", "text": "hi"}
    assert replayed.outcome(("an answer",)) is None  # given answers it never took: called
    assert state.replayed(1, "carol", same) is None  # another member in that place
    assert state.replayed(1, "bob", {"task": "t", "context": {"turn": 2}}) is None
    assert state.replayed(2, "bob", same) is None


def test_an_answered_call_is_replayed_only_with_the_answers_it_took() -> None:
    from weft.protocols import ErrorInfo

    question = ErrorInfo(type="NeedsInput", message="budget?")
    reply = saved_reply(3, "alice", "d", ActionResult.success("c", "5k"), ("5k",), question)
    assert reply is not None and (reply.answers, reply.question) == (1, question)
    asked = reply.asked()
    assert asked is not None and asked.error == question
    assert reply.outcome(("5k",)) is not None
    assert reply.outcome(("6k",)) is None  # other answers: the member is called


def test_a_result_that_is_not_json_is_not_saved_and_its_call_is_made_again() -> None:
    class Opaque:
        pass

    kept = saved_reply(1, "bob", "d", ActionResult.success("c1", Opaque()))
    assert kept is None
