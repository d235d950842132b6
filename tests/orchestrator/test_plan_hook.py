"""``on_plan`` tells a watcher the plan, its routes and exactly which subtasks each
cluster runs; a hook written for two arguments still gets two.

The plan interleaves two agents' independent subtasks (a, c to the reviewer;
b, d to the writer), so two clusters have the same inputs: the case in which
the live view of ``weft ask`` could only guess (``in channel_a or channel_b``).
"""

from __future__ import annotations

from typing import Any

from weft.agents import tool
from weft.cli._ask_display import AskProgress
from weft.runtime.orchestrator import Orchestrator
from weft.runtime.orchestrator.plan import Plan, Subtask
from weft.runtime.orchestrator.plan_hook import takes_clusters
from weft.runtime.orchestrator.planners import PlanOutcome, PlanRequest


class FixedPlanner:
    def __init__(self, plan: Plan) -> None:
        self.fixed = plan

    async def plan(self, request: PlanRequest) -> PlanOutcome:
        problems = await request.check(self.fixed)
        assert not problems, problems
        return PlanOutcome(self.fixed)


def _cluster_member(who: str, task: str, context: dict[str, Any] | None) -> str:
    mode = (context or {}).get("mode")
    if mode == "draft":
        return f"{who} {context['subtask']}"  # type: ignore[index]
    if mode == "refine":
        return str(context["own"])  # type: ignore[index]
    if mode == "synthesize":
        return " | ".join(o["output"] for o in context["outputs"])  # type: ignore[index]
    return f"{who} {task.splitlines()[-1]}"


@tool
async def reviewer(task: str, context: dict[str, Any] | None = None) -> str:
    """Reviews code for bugs."""
    return _cluster_member("reviewed", task, context)


@tool
async def writer(task: str, context: dict[str, Any] | None = None) -> str:
    """Writes documentation pages."""
    return _cluster_member("documented", task, context)


PLAN = Plan(
    subtasks=[
        Subtask(id="a", description="review the api module", capability="code review"),
        Subtask(id="b", description="write the api docs", capability="write documentation"),
        Subtask(id="c", description="review the db module", capability="code review"),
        Subtask(id="d", description="write the db docs", capability="write documentation"),
    ]
)
ROUTES = {"a": "reviewer", "b": "writer", "c": "reviewer", "d": "writer"}
CLUSTERS = {"channel_a": ["a", "c"], "channel_b": ["b", "d"]}


def orchestrator(**options: Any) -> Orchestrator:
    return Orchestrator([reviewer, writer], planner=FixedPlanner(PLAN), cluster_rounds=1, **options)


async def test_a_three_argument_hook_gets_each_clusters_members() -> None:
    seen: list[tuple[dict[str, str], dict[str, list[str]]]] = []
    asker = orchestrator(on_plan=lambda plan, routes, clusters: seen.append((routes, clusters)))
    answer = await asker.ask("review and document the api and db modules")
    assert answer.ok, answer.error
    assert seen == [(ROUTES, CLUSTERS)]


async def test_a_two_argument_hook_is_still_called_with_the_plan_and_routes() -> None:
    seen: list[tuple[Plan, dict[str, str]]] = []
    asker = orchestrator(on_plan=lambda plan, routes: seen.append((plan, routes)))
    answer = await asker.ask("review and document the api and db modules")
    assert answer.ok, answer.error
    assert seen == [(PLAN, ROUTES)]


async def test_without_cluster_rounds_the_hook_hears_of_no_clusters() -> None:
    seen: list[dict[str, list[str]]] = []
    asker = Orchestrator(
        [reviewer, writer],
        planner=FixedPlanner(PLAN),
        on_plan=lambda plan, routes, clusters: seen.append(clusters),
    )
    assert (await asker.ask("review and document the api and db modules")).ok
    assert seen == [{}]


def test_which_hooks_take_the_clusters() -> None:
    def two(plan: Any, routes: Any) -> None: ...
    def three(plan: Any, routes: Any, clusters: Any = None) -> None: ...
    def star(*args: Any) -> None: ...

    assert not takes_clusters(two)
    assert takes_clusters(three) and takes_clusters(star)
    assert takes_clusters(AskProgress(live=False).on_plan)


async def test_the_ask_view_shows_each_subtask_in_its_one_cluster() -> None:
    progress = AskProgress(live=False, cluster_rounds=1)
    asker = orchestrator(on_plan=progress.on_plan, listeners=[progress.on_event])
    assert (await asker.ask("review and document the api and db modules")).ok
    assert {s: progress.rows[s].channels for s in "abcd"} == {
        "a": ("channel_a",),
        "b": ("channel_b",),
        "c": ("channel_a",),
        "d": ("channel_b",),
    }
    assert {progress.rows[s].state for s in "abcd"} == {"succeeded"}
