"""The orchestrator's cluster option: similar independent subtasks become one FoA channel."""

from __future__ import annotations

from typing import Any

from weft.agents import tool
from weft.protocols import CapabilityCard
from weft.runtime.orchestrator import Orchestrator
from weft.runtime.orchestrator.plan import Plan, Subtask
from weft.runtime.orchestrator.planners import PlanOutcome, PlanRequest
from weft.runtime.teams import plan_channels
from weft.runtime.tracing.spans import MemoryTracer


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
