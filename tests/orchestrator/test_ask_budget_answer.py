"""What an ask gets when its budget runs out at the end, and the ``last`` aggregator.

Before: an ask whose subtasks had all finished, stopped by its budget while
(or once) the answer was made, came back with no answer and no results,
though the journal held them all. Now a synthesis that passes the budget as
it finishes stands (nothing was left to stop), and an ask stopped before its
answer keeps the results it paid for; the time budget still holds on resume.
The LLM aggregator is an ``LLMAgent`` on the real ``openai`` client against
``OpenAIServer``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

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
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.orchestrator import (
    AGGREGATE_SCHEMA,
    ANSWER_NODE,
    BudgetUsedUp,
    ConcatAggregator,
    LastAggregator,
    LLMAggregator,
    Orchestrator,
    OrchestratorBudget,
    Plan,
    plan_to_workflow,
)
from weft.testing import FunctionModel, OpenAIServer, text

TASK = "Draft the report. Then review the draft report."


class Metered:
    """An agent that reports ``tokens`` per call, as an LLM agent does."""

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
        self.calls = 0

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        self.calls += 1
        usage = Usage(llm_calls=1, prompt_tokens=self.tokens)
        return ActionResult.success(call.call_id, f"{self.spec.name} done", usage=usage)


def team(review_tokens: int = 60) -> list[Metered]:
    return [
        Metered("draft", "Draft a report.", 60),
        Metered("review", "Review a draft report.", review_tokens),
    ]


async def test_a_synthesis_that_passes_the_budget_as_it_finishes_still_answers(
    tmp_path: Path,
) -> None:
    """120 tokens of subtasks, then a 600-token synthesis: over 300, but the answer is made
    and paid for, so it stands, with a note saying by how much the budget was passed."""
    model = FunctionModel(lambda r: text("The synthesis.", usage=(500, 100)))
    journal = Journal(tmp_path / "journal.db")
    try:
        async with OpenAIServer(model) as server:
            answer = await Orchestrator(
                team(),
                aggregator=LLMAggregator(base_url=server.base_url),
                budget=OrchestratorBudget(max_tokens=300),
                journal=journal,
            ).ask(TASK)
        assert journal.get_run(answer.run_id).state is RunState.SUCCEEDED
    finally:
        journal.close()
    assert answer.ok and answer.answer == "The synthesis."
    assert answer.usage.prompt_tokens + answer.usage.completion_tokens == 720
    assert answer.notes == [
        "token budget exceeded: 720 > 300: passed as the answer was made, with nothing left "
        "to stop; the answer stands"
    ]


async def test_a_budget_passed_before_the_synthesis_keeps_the_results_it_paid_for(
    tmp_path: Path,
) -> None:
    """The reviewer's 300 tokens pass the budget: no synthesis, but both results are kept,
    and a resume with a larger budget makes the answer without running them again."""
    model = FunctionModel(lambda r: text("The synthesis.", usage=(50, 10)))
    agents = team(review_tokens=300)
    journal = Journal(tmp_path / "journal.db")
    try:
        async with OpenAIServer(model) as server:
            aggregator = LLMAggregator(base_url=server.base_url)
            orchestrator = Orchestrator(
                agents,
                aggregator=aggregator,
                budget=OrchestratorBudget(max_tokens=300),
                journal=journal,
            )
            stopped = await orchestrator.ask(TASK)
            assert stopped.state is RunState.CANCELLED
            assert stopped.error == "token budget exceeded: 360 > 300"
            assert stopped.answer is None and model.requests == []
            assert stopped.results == {"s1": "draft done", "s2": "review done"}
            assert stopped.notes == [
                "the budget stopped the ask after all 2 subtask(s) finished, before the answer "
                "was made: their results are kept as they are, not combined"
            ]
            done = await orchestrator.resume(
                stopped.run_id, budget=OrchestratorBudget(max_tokens=1000)
            )
    finally:
        journal.close()
    assert done.ok and done.answer == "The synthesis."
    assert [a.calls for a in agents] == [1, 1]  # served from the journal
    assert len(model.requests) == 1


async def test_a_time_budget_that_stops_the_synthesis_keeps_the_results_and_holds_on_resume(
    tmp_path: Path,
) -> None:
    release = asyncio.Event()

    class Slow:
        """An aggregator that waits until released."""

        spec = ActionSpec(
            name="weft_aggregate", kind=ActionKind.TOOL, input_schema=AGGREGATE_SCHEMA
        )

        async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
            await release.wait()
            return ActionResult.success(call.call_id, "combined")

    journal = Journal(tmp_path / "journal.db")
    try:
        budget = OrchestratorBudget(max_time=1.0)  # the subtasks take milliseconds
        stopped = await Orchestrator(team(), aggregator=Slow(), budget=budget, journal=journal).ask(
            TASK
        )
        assert stopped.error == "time budget exceeded: 1s"
        assert stopped.results == {"s1": "draft done", "s2": "review done"}
        assert "after all 2 subtask(s) finished" in stopped.notes[0]
        release.set()
        again = Orchestrator(team(), aggregator=Slow(), journal=journal)
        with pytest.raises(BudgetUsedUp, match=r"its whole time budget of 1s \(max_time\)"):
            await again.resume(stopped.run_id)  # the rule holds: no more time, no resume
        done = await again.resume(stopped.run_id, budget=OrchestratorBudget(max_time=60))
    finally:
        journal.close()
    assert done.ok and done.answer == "combined"


# -- the last aggregator -------------------------------------------------------------------


@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()


@tool
def compare(text: str) -> str:
    """Compare findings side by side."""
    return "compared: " + text.replace("\n\n", " | ")


async def test_the_last_aggregator_answers_with_the_sink_subtask_output() -> None:
    answer = await Orchestrator([research, compare], aggregator=LastAggregator()).ask(
        "Research solar. Research wind. Finally compare them."
    )
    assert answer.ok, answer.error
    assert [s.depends_on for s in answer.plan.subtasks] == [[], [], ["s1", "s2"]]  # type: ignore[union-attr]
    assert answer.answer == "compared: facts on research solar | facts on research wind"


async def test_of_several_sinks_the_last_in_plan_order_answers() -> None:
    answer = await Orchestrator([research], aggregator=LastAggregator()).ask(
        "Research solar. Research wind."
    )
    assert answer.ok, answer.error
    assert answer.answer == "facts on research wind"
    assert answer.results["s1"] == "facts on research solar"  # the other sink's, kept


def test_the_sinks_follow_the_dependencies_not_the_plan_order() -> None:
    """A plan listing the subtask others depend on last: the sink is the one listed first."""
    plan = Plan.model_validate(
        {
            "subtasks": [
                {"id": "b", "description": "Compare.", "capability": "x", "depends_on": ["a"]},
                {"id": "a", "description": "Research.", "capability": "x"},
            ]
        }
    )
    specs = {"research": research.spec}
    workflow = plan_to_workflow(
        plan, {"a": "research", "b": "research"}, specs, aggregator=LastAggregator().spec
    )
    assert workflow.build().nodes[ANSWER_NODE].with_["sinks"] == ["b"]


def test_other_aggregators_get_the_graph_they_always_had() -> None:
    """``sinks`` is given only to an aggregator that declares it: an ask journaled before
    keeps its graph hash, so it can still be resumed."""
    plan = Plan.model_validate(
        {"subtasks": [{"id": "a", "description": "Research.", "capability": "x"}]}
    )
    registry = ActionRegistry([research, ConcatAggregator()])
    routes = {"a": "research"}
    by_name = plan_to_workflow(plan, routes, registry.specs(), aggregator="weft_aggregate")
    by_spec = plan_to_workflow(plan, routes, registry.specs(), aggregator=ConcatAggregator().spec)
    assert "sinks" not in by_spec.build().nodes[ANSWER_NODE].with_
    hashes = {compile_workflow(w, registry).graph_hash for w in (by_name, by_spec)}
    assert len(hashes) == 1


DESK = """
from weft import ActionKind, ActionResult, ActionSpec, Usage


class Metered:
    def __init__(self, name, description, tokens):
        self.spec = ActionSpec(
            name=name, kind=ActionKind.AGENT, description=description,
            input_schema={"type": "object", "properties": {"task": {"type": "string"}},
                          "required": ["task"]},
        )
        self.tokens = tokens

    async def invoke(self, call, ctx):
        usage = Usage(llm_calls=1, prompt_tokens=self.tokens)
        return ActionResult.success(call.call_id, f"{self.spec.name} done", usage=usage)


agents = [Metered("draft", "Draft a report.", 60), Metered("review", "Review a draft report.", 60)]
"""


def test_weft_ask_prints_an_answer_whose_synthesis_passed_the_budget(tmp_path: Path) -> None:
    (tmp_path / "desk.py").write_text(DESK)
    model = FunctionModel(lambda r: text("The synthesis.", usage=(500, 100)))
    with OpenAIServer(model) as server:
        result = CliRunner().invoke(
            cli,
            [
                "ask",
                TASK,
                "--agents",
                str(tmp_path / "desk.py"),
                "--base-url",
                server.base_url,
                "--planner",
                "rules",
                "--router",
                "lexical",
                "--no-memory",
                "--max-tokens",
                "300",
                "--journal",
                str(tmp_path / "journal.db"),
            ],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    assert result.stdout == "The synthesis.\n"
    assert "note: token budget exceeded: 720 > 300: passed as the answer was made" in result.stderr
    assert ": succeeded · 2 subtask(s) · 3 LLM call(s), 720 tokens" in result.stderr
