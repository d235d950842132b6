"""The orchestrator's cluster option: similar independent subtasks become one FoA channel."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from weft.agents import tool
from weft.cli import cli
from weft.protocols import CapabilityCard
from weft.runtime.orchestrator import Orchestrator
from weft.runtime.orchestrator.plan import Plan, Subtask
from weft.runtime.orchestrator.planners import PlanOutcome, PlanRequest
from weft.runtime.teams import plan_channels
from weft.runtime.tracing.spans import MemoryTracer
from weft.runtime.tracing.store import TraceStore


class FixedPlanner:
    def __init__(self, plan: Plan) -> None:
        self.fixed = plan

    async def plan(self, request: PlanRequest) -> PlanOutcome:
        problems = await request.check(self.fixed)
        assert not problems, problems
        return PlanOutcome(self.fixed)


@tool
async def reviewer(task: str, context: dict[str, Any] | None = None) -> str:
    """Reviews code for bugs."""
    mode = (context or {}).get("mode")
    if mode == "draft":
        return f"review of {context['subtask']}"  # type: ignore[index]
    if mode == "refine":
        return f"{context['own']} (checked against {len(context['peers'])} peers)"  # type: ignore[index]
    if mode == "synthesize":
        return " | ".join(o["output"] for o in context["outputs"])  # type: ignore[index]
    return f"review of {task.splitlines()[-1]}"


@tool
async def summarizer(task: str, context: dict[str, Any] | None = None) -> str:
    """Summarizes reviews into a short report."""
    return f"summary of {context}"


PLAN = Plan(
    subtasks=[
        Subtask(id="api", description="review the api module", capability="code review"),
        Subtask(id="db", description="review the db module", capability="code review"),
        Subtask(
            id="sum",
            description="summarize the reviews",
            capability="summarize",
            depends_on=["api", "db"],
        ),
    ]
)


def test_plan_channels_group_same_agent_subtasks_with_the_same_inputs() -> None:
    card = CapabilityCard(agent_id="reviewer")
    other = CapabilityCard(agent_id="summarizer")
    subtasks = [
        ("a", frozenset(), card),
        ("b", frozenset(), card),
        ("c", frozenset({"a"}), card),
        ("d", frozenset(), other),
    ]
    assert plan_channels(subtasks) == [["a", "b"]]


async def test_the_orchestrator_runs_similar_subtasks_as_one_cluster() -> None:
    tracer = MemoryTracer()
    orchestrator = Orchestrator(
        [reviewer, summarizer], planner=FixedPlanner(PLAN), cluster_rounds=2, tracer=tracer
    )
    routes: dict[str, str] = {}
    orchestrator.on_plan = lambda plan, chosen: routes.update(chosen)
    answer = await orchestrator.ask("review the api and db modules and summarize")
    assert routes == {"api": "reviewer", "db": "reviewer", "sum": "summarizer"}
    nodes = {s.name for s in tracer.spans if s.kind == "node"}
    assert "channel_api" in nodes and not {"api", "db"} & nodes
    kinds = [s.attributes["weft.team.message"] for s in tracer.spans if s.kind == "team"]
    assert kinds.count("refinement") == 2 * 2 and kinds.count("synthesis") == 1
    synthesis = (
        "review of review the api module (checked against 1 peers) (checked against 1 peers)"
        " | review of review the db module (checked against 1 peers) (checked against 1 peers)"
    )
    # the summary read the channel's synthesis in place of each member's result
    assert f"summary of {{'api': '{synthesis}', 'db': '{synthesis}'}}" in answer.answer


REVIEW_AGENTS = '''
from typing import Any
from weft import tool


@tool
def reviewer(task: str, context: dict[str, Any] | None = None) -> str:
    """Review a code module for bugs."""
    mode = (context or {}).get("mode")
    if mode == "draft":
        return "review of " + context["subtask"]
    if mode == "refine":
        return context["own"] + " +r" + str(context["round"])
    if mode == "synthesize":
        return " | ".join(o["output"] for o in context["outputs"])
    return "review of " + task


@tool
def summarizer(task: str, context: dict[str, Any] | None = None) -> str:
    """Summarize the reviews into a report."""
    return "summary: " + str(context)


agents = [reviewer, summarizer]
'''


def _ask(tmp_path: Path, *args: str) -> Result:
    agents = tmp_path / "review_agents.py"
    agents.write_text(REVIEW_AGENTS)
    argv = [
        "ask",
        "Review the api module. Review the db module. Finally summarize the reviews.",
        "--agents",
        str(agents),
        "--router",
        "lexical",
        "--no-memory",
        *args,
    ]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path)})


@pytest.mark.parametrize("rounds", [1, 3])
def test_weft_ask_cluster_rounds_runs_k_refinement_rounds_per_cluster(
    tmp_path: Path, rounds: int
) -> None:
    result = _ask(tmp_path, "--cluster-rounds", str(rounds), "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["routes"] == {"s1": "reviewer", "s2": "reviewer", "s3": "summarizer"}
    with TraceStore(tmp_path / "traces.db") as store:
        spans = store.spans(answer["run_id"])
    refinements: dict[str, Counter[int]] = {}
    for span in spans:
        if span.kind == "team" and span.attributes["weft.team.message"] == "refinement":
            cluster = refinements.setdefault(span.attributes["weft.team"], Counter())
            cluster[span.attributes["output"]["data"]["round"]] += 1
    # one cluster of the two reviews: each member refined once in each of the k rounds
    assert refinements == {"channel_s1": Counter({r: 2 for r in range(1, rounds + 1)})}
    suffix = "".join(f" +r{r}" for r in range(1, rounds + 1))
    assert f"review of Review the api module{suffix}" in answer["answer"]


def test_weft_ask_without_cluster_rounds_runs_no_cluster(tmp_path: Path) -> None:
    result = _ask(tmp_path, "--json")
    assert result.exit_code == 0, result.output
    with TraceStore(tmp_path / "traces.db") as store:
        spans = store.spans(json.loads(result.stdout)["run_id"])
    assert not [s for s in spans if s.kind == "team"]


@pytest.mark.parametrize("rounds", ["0", "-2", "two"])
def test_weft_ask_cluster_rounds_below_one_is_a_usage_error(tmp_path: Path, rounds: str) -> None:
    result = _ask(tmp_path, "--cluster-rounds", rounds)
    assert result.exit_code == 2, result.output
    assert "--cluster-rounds" in result.stderr
    assert "Traceback" not in result.output


def test_weft_ask_cluster_rounds_with_a_workflow_is_a_clear_error(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: f\nnodes:\n  a: {action: reviewer}\n")
    result = _ask(tmp_path, "--cluster-rounds", "2", "--workflow", str(flow))
    assert result.exit_code == 2, result.output
    assert "--cluster-rounds clusters the subtasks of a plan" in result.stderr
    assert "Traceback" not in result.output


def test_weft_ask_shows_the_cluster_node_with_its_rounds(tmp_path: Path) -> None:
    result = _ask(tmp_path, "--cluster-rounds", "2")
    assert result.exit_code == 0, result.output
    assert "… channel_s1 (cluster, 2 rounds) running" in result.stderr
    assert "+r1 +r2" in result.stdout
