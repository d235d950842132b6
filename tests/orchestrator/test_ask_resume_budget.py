"""A resumed ask is held to the budgets it was asked with, on either engine.

The budget is journaled with the ask's plan; what the ask spent before it
stopped (its planner, the subtasks the journal says finished, the time its
runs ran) counts against it, so a budget means the same whether the ask
finished in one go or was resumed. A resume that would start over budget is
refused before anything runs; a larger budget given to the resume replaces
the ask's. Agents here report tokens as an LLM agent does, without a model.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from weft import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    RunState,
    Usage,
    tool,
)
from weft.cli import cli
from weft.protocols import EventKind, RunEvent
from weft.runtime.engine.journal import Journal
from weft.runtime.orchestrator import Orchestrator, OrchestratorBudget
from weft.runtime.orchestrator.resume_budget import (
    BudgetUsedUp,
    Spent,
    over_budget,
    spent_before,
)

TASK = "Draft the report. Then review the draft report."


class Metered:
    """An agent that spends ``tokens`` per call, as an LLM agent reports them; it fails
    while ``broken`` is set."""

    def __init__(self, name: str, description: str, tokens: int) -> None:
        self.spec = ActionSpec(
            name=name,
            kind=ActionKind.AGENT,
            description=description,
            input_schema={
                "type": "object",
                "properties": {"task": {"type": "string"}},
                "required": ["task"],
            },
        )
        self.tokens = tokens
        self.broken = False
        self.calls = 0

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        self.calls += 1
        if self.broken:
            return ActionResult.failure(call.call_id, "Unavailable", f"{self.spec.name} is down")
        spent = Usage(llm_calls=1, prompt_tokens=self.tokens)
        return ActionResult.success(call.call_id, f"{self.spec.name} done", usage=spent)


def agents(review_tokens: int = 60) -> tuple[Metered, Metered]:
    draft = Metered("draft", "Draft a report.", 60)
    review = Metered("review", "Review a draft report.", review_tokens)
    return draft, review


async def failed_ask(
    journal: Journal, budget: OrchestratorBudget, draft: Metered, review: Metered
) -> str:
    """The ask of ``TASK``, stopped by a broken reviewer once the draft is done."""
    review.broken = True
    stopped = await Orchestrator([draft, review], budget=budget, journal=journal).ask(TASK)
    assert stopped.state is RunState.FAILED, stopped.error
    assert stopped.routes == {"s1": "draft", "s2": "review"}
    assert stopped.usage.prompt_tokens == 60
    review.broken = False
    return stopped.run_id


@pytest.mark.parametrize("engine", ["weft", "langgraph"])
async def test_a_resumed_ask_is_held_to_its_token_budget_counting_what_it_spent(
    tmp_path: Path, engine: str
) -> None:
    """60 tokens before the stop and 60 after pass a budget of 100, though neither
    alone does: the resume is cancelled as the ask would have been."""
    if engine == "langgraph":
        pytest.importorskip("langgraph")
    journal = Journal(tmp_path / "journal.db")
    draft, review = agents()
    try:
        run_id = await failed_ask(journal, OrchestratorBudget(max_tokens=100), draft, review)
        again = Orchestrator([draft, review], journal=journal)  # no budget given: the ask's
        done = await again.resume(run_id, engine=engine)  # type: ignore[arg-type]
        assert journal.get_run(run_id).state is RunState.CANCELLED
    finally:
        journal.close()
    assert done.state is RunState.CANCELLED
    assert done.error == "token budget exceeded: 120 > 100"
    assert done.usage.prompt_tokens == 120  # the whole ask's, not the resume's alone
    assert (draft.calls, review.calls) == (1, 2)  # the draft came from the journal


async def test_a_resume_that_would_start_over_budget_is_refused_until_given_more(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "journal.db")
    draft, review = agents()
    try:
        run_id = await failed_ask(journal, OrchestratorBudget(max_tokens=100), draft, review)
        again = Orchestrator([draft, review], journal=journal)
        await again.resume(run_id)  # cancelled at 120 > 100
        events = len(list(journal.events(run_id)))
        over = r"already spent 120 tokens, over its budget of 100 \(max_tokens\): resume it"
        with pytest.raises(BudgetUsedUp, match=over):
            await again.resume(run_id)
        assert len(list(journal.events(run_id))) == events  # refused before anything ran
        done = await again.resume(run_id, budget=OrchestratorBudget(max_tokens=1000))
    finally:
        journal.close()
    assert done.ok, done.error
    assert done.answer is not None and "review done" in done.answer
    assert review.calls == 2 and draft.calls == 1  # what finished is not repeated


async def test_a_resumed_ask_is_held_to_its_time_budget(tmp_path: Path) -> None:
    """The time budget holds on resume: the subtask that would run forever is stopped."""
    never = asyncio.Event()

    @tool
    def approve(task: str, ctx: ActionContext) -> str:
        """Approve the plan once a person confirms."""
        return "approved " + str(ctx.ask("Approve?", choices=["yes", "no"]))

    @tool
    async def wait(task: str) -> str:
        """Wait for the approved plan to be carried out."""
        await never.wait()
        return "never"

    journal = Journal(tmp_path / "journal.db")
    try:
        budget = OrchestratorBudget(max_time=2.0)
        stopped = await Orchestrator([approve, wait], budget=budget, journal=journal).ask(
            "Approve the plan. Then wait for the approved plan to be carried out."
        )
        assert stopped.state is RunState.NEEDS_INPUT, stopped.error
        again = Orchestrator([approve, wait], journal=journal)
        done = await asyncio.wait_for(again.resume(stopped.run_id, answers={"s1": "yes"}), 30)
        finished = journal.completed_calls(stopped.run_id)
    finally:
        journal.close()
    assert done.state is RunState.CANCELLED
    assert done.error == "time budget exceeded: 2s"
    assert finished == {"s1": "approved yes"}  # the answered subtask ran, then time was up


async def test_an_ask_its_time_budget_stopped_is_refused_until_given_more_time(
    tmp_path: Path,
) -> None:
    """The timer starts with the run, so the run it stopped journaled the whole budget."""
    ready = asyncio.Event()

    @tool
    async def wait(task: str) -> str:
        """Wait for the delivery to arrive."""
        await ready.wait()
        return "arrived"

    journal = Journal(tmp_path / "journal.db")
    try:
        budget = OrchestratorBudget(max_time=0.2)
        stopped = await Orchestrator([wait], budget=budget, journal=journal).ask("Wait.")
        assert stopped.error == "time budget exceeded: 0.2s"
        ready.set()
        again = Orchestrator([wait], journal=journal)
        with pytest.raises(BudgetUsedUp, match=r"its whole time budget of 0.2s \(max_time\)"):
            await again.resume(stopped.run_id)
        done = await again.resume(stopped.run_id, budget=OrchestratorBudget(max_time=60))
    finally:
        journal.close()
    assert done.ok, done.error
    assert done.answer == "arrived"


def test_what_an_ask_spent_is_read_from_its_journal(tmp_path: Path) -> None:
    """Tokens of top-level subtasks (a foreach item's and a sub-workflow node's are in
    their parent's), seconds between each run's start and end (a run whose process died
    ends at its last event; waiting for a person's answer is no running time)."""
    journal = Journal(tmp_path / "journal.db")
    try:
        journal.start_run("r1", "ask", None, "hash", {})

        def event(at: float, kind: EventKind, key: str | None = None, tokens: int = 0) -> None:
            usage = Usage(prompt_tokens=tokens) if tokens else None
            journal.append(RunEvent(run_id="r1", kind=kind, at=at, key=key, usage=usage))

        event(100.0, EventKind.RUN_STARTED)
        event(101.0, EventKind.NODE_FINISHED, "s1", 10)
        event(101.5, EventKind.NODE_FINISHED, "s2[0]", 4)
        event(101.6, EventKind.NODE_FINISHED, "s2", 7)
        event(101.8, EventKind.NODE_FINISHED, "s3/inner", 5)
        event(103.0, EventKind.RUN_FINISHED)
        event(150.0, EventKind.ANSWER, "s2")  # a person answered 47 s later
        event(200.0, EventKind.RUN_RESUMED)
        event(201.0, EventKind.NODE_FINISHED, "s3", 8)  # ... and the process died
        event(250.0, EventKind.ANSWER, "s3")
        spent = spent_before(journal, "r1", Usage(prompt_tokens=1))
    finally:
        journal.close()
    assert spent.usage.prompt_tokens == 1 + 10 + 7 + 8
    assert spent.seconds == pytest.approx(3.0 + 1.0)


@pytest.mark.parametrize(
    ("budget", "spent", "why"),
    [
        (OrchestratorBudget(max_tokens=100), Spent(Usage(prompt_tokens=100), 0.0), None),
        (
            OrchestratorBudget(max_tokens=100),
            Spent(Usage(prompt_tokens=70, completion_tokens=31), 0.0),
            ("max_tokens", "already spent 101 tokens, over its budget of 100"),
        ),
        (
            OrchestratorBudget(max_cost=0.5),
            Spent(Usage(cost=0.75), 0.0),
            ("max_cost", "already spent $0.7500, over its budget of $0.5000"),
        ),
        (
            OrchestratorBudget(max_time=3.0),
            Spent(Usage(), 3.0),
            ("max_time", "already ran 3.00s, its whole time budget of 3s"),
        ),
        (OrchestratorBudget(max_time=3.0), Spent(Usage(), 2.5), None),
    ],
)
def test_a_budget_already_used_up_is_named(
    budget: OrchestratorBudget, spent: Spent, why: tuple[str, str] | None
) -> None:
    assert over_budget(budget, spent) == why


# -- weft resume ---------------------------------------------------------------------------

DESK = """
from pathlib import Path

from weft import ActionKind, ActionResult, ActionSpec, Usage

HERE = Path(__file__).parent


class Metered:
    def __init__(self, name, description, tokens):
        self.spec = ActionSpec(
            name=name, kind=ActionKind.AGENT, description=description,
            input_schema={"type": "object", "properties": {"task": {"type": "string"}},
                          "required": ["task"]},
        )
        self.tokens = tokens

    async def invoke(self, call, ctx):
        if (HERE / f"{self.spec.name}.broken").exists():
            return ActionResult.failure(call.call_id, "Unavailable", "the reviewer is out")
        usage = Usage(llm_calls=1, prompt_tokens=self.tokens)
        return ActionResult.success(call.call_id, f"{self.spec.name} done", usage=usage)


agents = [Metered("draft", "Draft a report.", 60), Metered("review", "Review a draft report.", 60)]
"""


def weft(folder: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        [*args, "--journal", str(folder / "journal.db")],
        env={"WEFT_HOME": str(folder), "WEFT_BROKER": None},
        catch_exceptions=False,
    )


def run_of(result: Result) -> str:
    return str(result.stderr.split("resume with: weft resume ")[1].split()[0])


def test_weft_resume_holds_an_ask_to_its_budget_and_takes_a_larger_one(tmp_path: Path) -> None:
    (tmp_path / "desk.py").write_text(textwrap.dedent(DESK))
    (tmp_path / "review.broken").touch()
    failed = weft(
        tmp_path, "ask", TASK, "--agents", str(tmp_path / "desk.py"),
        "--no-memory", "--router", "lexical", "--max-tokens", "100",
    )  # fmt: skip
    assert failed.exit_code == 1, failed.output
    assert "the reviewer is out" in failed.stderr
    run_id = run_of(failed)
    (tmp_path / "review.broken").unlink()

    over = weft(tmp_path, "resume", run_id)
    assert over.exit_code == 1, over.output
    assert "error: token budget exceeded: 120 > 100" in over.stderr
    assert f"run {run_id}: cancelled · 2 subtask(s) · 2 LLM call(s), 120 tokens" in over.stderr
    # resumed as it is it would be refused: the hint names the flag that raises the budget
    assert f"resume with: weft resume {run_id} --journal " in over.stderr
    assert (
        " --max-tokens N  (N: a larger budget for the whole ask; what finished is not run again)"
    ) in over.stderr
    # both subtasks finished before the budget stopped the ask: their results are shown
    assert over.stdout == (
        "## Draft the report\n\ndraft done\n\n## Review the draft report\n\nreview done\n"
    )
    assert "note: the budget stopped the ask after all 2 subtask(s) finished" in over.stderr

    refused = weft(tmp_path, "resume", run_id)
    assert refused.exit_code == 2, refused.output
    assert refused.stderr.strip() == (
        f"error: run {run_id} already spent 120 tokens, over its budget of 100 (max_tokens): "
        "give weft resume a larger --max-tokens"
    )

    done = weft(tmp_path, "resume", run_id, "--max-tokens", "1000", "--json")
    assert done.exit_code == 0, done.output
    answer: dict[str, Any] = json.loads(done.stdout)
    assert answer["state"] == "succeeded"
    assert answer["usage"]["prompt_tokens"] == 120


def test_weft_resume_budget_flags_are_refused_for_a_workflow_run(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        textwrap.dedent(
            """
            name: flow
            actions:
              ask: {python: "weft.agents.human:ask"}
            nodes:
              go: {action: ask, with: {question: "Go?"}}
            """
        )
    )
    stopped = weft(tmp_path, "run", str(tmp_path / "flow.yaml"), "--json")
    run_id = json.loads(stopped.stdout)["run_id"]
    refused = weft(tmp_path, "resume", run_id, "--max-cost", "1")
    assert refused.exit_code == 2, refused.output
    assert refused.stderr.strip() == (
        f"error: run {run_id} is a workflow run: --max-cost bounds a resumed weft ask "
        "(a workflow run has no budget)"
    )
