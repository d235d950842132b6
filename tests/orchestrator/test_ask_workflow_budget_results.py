"""``weft ask --workflow`` stopped by its budget keeps the results of the nodes that finished.

A planned ask its budget stops keeps the results of the subtasks that finished
(what it paid for) and prints them; an ask given a workflow came back with no
results at all. Now it keeps its finished nodes' outputs, in the workflow's
order, says so in a note, and ``weft ask`` prints them under the nodes' names.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

from click.testing import CliRunner

from weft import ActionCall, ActionContext, ActionKind, ActionResult, ActionSpec, RunState, Usage
from weft.cli import cli
from weft.runtime.orchestrator import Orchestrator, OrchestratorBudget
from weft.workflows import Workflow


class Metered:
    """An agent that reports 60 tokens per call, as an LLM agent does; ``hangs`` until
    the run is cancelled (a step still working when the budget stops the ask)."""

    def __init__(self, name: str, hangs: bool = False) -> None:
        self.spec = ActionSpec(
            name=name,
            kind=ActionKind.AGENT,
            description=name,
            input_schema={"type": "object", "properties": {"task": {"type": "string"}}},
        )
        self.hangs = hangs
        self.calls = 0

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        self.calls += 1
        if self.hangs:
            await asyncio.Event().wait()
        usage = Usage(llm_calls=1, prompt_tokens=60)
        return ActionResult.success(call.call_id, f"{self.spec.name} done", usage=usage)


def three_steps() -> Workflow:
    wf = Workflow("metered")
    wf.input("task")
    wf.node("draft", "draft", with_={"task": "${inputs.task}"})
    wf.node("review", "review", after=["draft"], with_={"task": "${draft}"})
    wf.node("publish", "publish", after=["review"], with_={"task": "${review}"})
    return wf


async def test_a_workflow_ask_stopped_by_its_budget_keeps_what_finished() -> None:
    agents = [Metered("draft"), Metered("review"), Metered("publish", hangs=True)]
    orchestrator = Orchestrator(agents, budget=OrchestratorBudget(max_tokens=100))
    answer = await orchestrator.ask("Write it", workflow=three_steps())
    assert answer.state is RunState.CANCELLED
    assert answer.error == "token budget exceeded: 120 > 100"
    assert answer.answer is None
    assert answer.results == {"draft": "draft done", "review": "review done"}
    assert answer.notes == [
        "the budget stopped the ask after 2 of 3 node(s) of workflow 'metered' finished, "
        "before its outputs were made: their results are kept as they are"
    ]


AGENTS = """
import asyncio

from weft import ActionKind, ActionResult, ActionSpec, Usage


class Metered:
    def __init__(self, name, hangs=False):
        self.hangs = hangs
        self.spec = ActionSpec(
            name=name,
            kind=ActionKind.AGENT,
            description=name,
            input_schema={"type": "object", "properties": {"task": {"type": "string"}}},
        )

    async def invoke(self, call, ctx):
        if self.hangs:
            await asyncio.Event().wait()  # until the budget cancels the run
        usage = Usage(llm_calls=1, prompt_tokens=60)
        return ActionResult.success(call.call_id, self.spec.name + " done", usage=usage)


draft, review, publish = Metered("draft"), Metered("review"), Metered("publish", hangs=True)
"""

WORKFLOW = """
name: metered
inputs:
  task: {type: string}
actions:
  draft: {python: "wf_budget_results_agents:draft"}
  review: {python: "wf_budget_results_agents:review"}
  publish: {python: "wf_budget_results_agents:publish"}
nodes:
  draft: {action: draft, with: {task: "${inputs.task}"}}
  review: {action: review, after: [draft], with: {task: "${draft}"}}
  publish: {action: publish, after: [review], with: {task: "${review}"}}
"""


def test_weft_ask_workflow_prints_the_results_its_budget_left(tmp_path: Path) -> None:
    (tmp_path / "wf_budget_results_agents.py").write_text(AGENTS)
    (tmp_path / "metered.yaml").write_text(textwrap.dedent(WORKFLOW))
    asked = CliRunner().invoke(
        cli,
        ["ask", "Write it", "--workflow", str(tmp_path / "metered.yaml"), "--max-tokens", "100"],
        env={"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None},
        catch_exceptions=False,
    )
    assert asked.exit_code == 1, asked.output
    assert asked.stdout == "## draft\n\ndraft done\n\n## review\n\nreview done\n"
    assert "error: token budget exceeded: 120 > 100" in asked.stderr
    assert "note: the budget stopped the ask after 2 of 3 node(s)" in asked.stderr
    assert "--max-tokens N" in asked.stderr  # how to finish it
