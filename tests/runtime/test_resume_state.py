"""What an action saves when it asks comes back to it on resume, on both engines.

A ``needs_input`` result may carry ``resume_state`` (an ``LLMAgent`` saves its
conversation there, ``tests/llm/test_llm_agent_resume.py``). The engine
journals it with the question, by execution key, and hands it back on the
call that resumes that key (``ActionCall.resume_state``): a node, a
``foreach`` item, a critic on an edge. A call that never saved one gets None.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from weft import RunState, Workflow
from weft.protocols import ActionCall, ActionContext, ActionResult, ActionSpec, NeedsInput
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine.to_langgraph import resume_langgraph, run_langgraph

ENGINES = {"weft": (run_workflow, resume_run), "langgraph": (run_langgraph, resume_langgraph)}


class Stepper:
    """Asks once, saving how far it got; answered, it says what it was handed back."""

    def __init__(self, name: str = "stepper", *, save: bool = True) -> None:
        self._spec = ActionSpec(
            name=name, input_schema={"type": "object", "additionalProperties": True}
        )
        self.save = save
        #: ``(arguments, answers, resume_state)`` of every call.
        self.calls: list[tuple[dict[str, Any], tuple[Any, ...], dict[str, Any] | None]] = []

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        self.calls.append((call.arguments, call.answers, call.resume_state))
        if not call.answers:
            stopped = ActionResult.from_exception(call.call_id, NeedsInput("Go on?"))
            if self.save:
                stopped.resume_state = {"got_to": call.arguments.get("item", "step 1")}
            return stopped
        return ActionResult.success(
            call.call_id, {"approved": True, "handed_back": call.resume_state}
        )


@pytest.mark.parametrize("engine", sorted(ENGINES))
async def test_a_node_gets_back_the_state_it_saved_when_it_asked(
    tmp_path: Path, engine: str
) -> None:
    run, resume = ENGINES[engine]
    stepper = Stepper()
    wf = Workflow("steps")
    wf.node("step", stepper, with_={"task": "go"})
    journal = Journal(tmp_path / "journal.db")

    first = await run(wf, journal=journal, tracer=False)
    assert first.state is RunState.NEEDS_INPUT
    assert journal.resume_states(first.run_id) == {"step": {"got_to": "step 1"}}
    done = await resume(
        first.run_id, journal=journal, definition=wf, answers={"step": "yes"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert [c[2] for c in stepper.calls] == [None, {"got_to": "step 1"}]
    assert done.outputs["step"]["handed_back"] == {"got_to": "step 1"}
    assert journal.resume_states(first.run_id) == {}  # answered: nothing waits any more


@pytest.mark.parametrize("engine", sorted(ENGINES))
async def test_each_foreach_item_gets_back_its_own_state(tmp_path: Path, engine: str) -> None:
    run, resume = ENGINES[engine]
    stepper = Stepper()
    wf = Workflow("items")
    wf.node("each", stepper, foreach="${inputs.items}", with_={"item": "${item}"})
    journal = Journal(tmp_path / "journal.db")

    first = await run(wf, {"items": ["a", "b"]}, journal=journal, tracer=False)
    assert journal.resume_states(first.run_id) == {
        "each[0]": {"got_to": "a"},
        "each[1]": {"got_to": "b"},
    }
    done = await resume(
        first.run_id,
        journal=journal,
        definition=wf,
        answers={"each[0]": "yes", "each[1]": "yes"},
        tracer=False,
    )
    assert done.state is RunState.SUCCEEDED, done.error
    resumed = {c[0]["item"]: c[2] for c in stepper.calls if c[1]}
    assert resumed == {"a": {"got_to": "a"}, "b": {"got_to": "b"}}


async def test_a_critic_gets_back_the_state_it_saved_when_it_asked(tmp_path: Path) -> None:
    critic = Stepper("critic")
    published: list[Any] = []

    class Publish(Stepper):
        async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
            published.append(call.arguments)
            return ActionResult.success(call.call_id, "published")

    wf = Workflow("reviewed")
    wf.node("draft", Stepper("draft", save=False), with_={"item": "post"})
    wf.node("publish", Publish("publish"), with_={"text": "${draft}"})
    wf.edge("draft", "publish", critic=critic)
    journal = Journal(tmp_path / "journal.db")

    first = await run_workflow(wf, journal=journal, tracer=False)
    assert first.state is RunState.NEEDS_INPUT
    second = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"draft": "yes"}, tracer=False
    )
    assert journal.resume_states(first.run_id) == {"draft->publish:critic": {"got_to": "step 1"}}
    done = await resume_run(
        second.run_id, journal=journal, definition=wf, answers={"publish": "ok"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert [c[2] for c in critic.calls] == [None, {"got_to": "step 1"}]
    assert len(published) == 1


async def test_a_call_that_saved_nothing_is_resumed_without_a_state(tmp_path: Path) -> None:
    stepper = Stepper(save=False)
    wf = Workflow("steps")
    wf.node("step", stepper, with_={"task": "go"})
    journal = Journal(tmp_path / "journal.db")
    first = await run_workflow(wf, journal=journal, tracer=False)
    assert journal.resume_states(first.run_id) == {}
    done = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"step": "yes"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert [c[2] for c in stepper.calls] == [None, None]


def test_a_state_that_a_secret_registered_before_the_flush_would_mask_is_not_journaled(
    tmp_path: Path,
) -> None:
    """The journal encodes at flush time: a secret registered after the call finished (by
    another call) is caught then too, and the state is dropped rather than kept masked."""
    from uuid import uuid4

    from weft.runtime.support.redaction import register_secret

    secret = f"late-{uuid4().hex}"
    journal = Journal(tmp_path / "journal.db")
    journal.record(
        "run1", 1.0, "node_finished", "n", "n", "needs_input", 1,
        data={"resume_state": {"kept": "fine"}},
    )  # fmt: skip
    journal.record(
        "run1", 2.0, "node_finished", "m", "m", "needs_input", 1,
        data={"resume_state": {"password_said": secret}},
    )  # fmt: skip
    register_secret(secret)
    journal.flush()
    assert journal.resume_states("run1") == {"n": {"kept": "fine"}}
