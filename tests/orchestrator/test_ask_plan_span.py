"""An ask's planning in its trace: one ``plan`` span from the ask's start to the accepted
plan, with the planner's model requests and one ``route`` span per subtask under it, each
route span lasting from the start to the end of that subtask's own routing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft import tool
from weft.cli import cli
from weft.protocols import Candidate, RouteRequest, RoutingDecision, WeftError
from weft.runtime.orchestrator import LLMPlanner, Orchestrator, PlanningError
from weft.runtime.orchestrator.experience import Experience, Recall
from weft.runtime.orchestrator.plan import Plan, Subtask
from weft.runtime.routing.lexical_router import LexicalRouter
from weft.runtime.tracing.spans import MemoryTracer, SpanRecord
from weft.testing import FunctionModel, OpenAIServer, json_output


@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()


@tool
def compare(text: str) -> str:
    """Compare findings side by side."""
    return "compared: " + text


class OneAtATimeRouter(LexicalRouter):
    """A router that decides one request at a time, as a router with one model or one
    index does, and notes when it decided each one (its own clock, inside the lock)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = asyncio.Lock()
        self.decided: dict[str, tuple[float, float]] = {}

    async def route(self, request: RouteRequest) -> RoutingDecision:
        async with self.lock:
            started = time.time()
            await asyncio.sleep(0)  # let the other requests queue up behind the lock
            decision = await super().route(request)
            self.decided[request.text] = (started, time.time())
            return decision


def _by_name(tracer: MemoryTracer, kind: str) -> dict[str, SpanRecord]:
    return {s.name: s for s in tracer.by_kind(kind)}


async def test_route_spans_last_as_long_as_their_own_routing_did() -> None:
    tracer = MemoryTracer()
    router = OneAtATimeRouter()
    await Orchestrator([research, compare], router=router, tracer=tracer).ask(
        "Research solar power. Research wind power. Finally compare them."
    )
    routes = _by_name(tracer, "route")
    texts = {"route s1": "Research solar power", "route s2": "Research wind power"}
    texts["route s3"] = "Compare them"
    for name, text in texts.items():
        started, ended = router.decided[text]
        assert routes[name].start <= started and ended <= routes[name].end, name
    # decided one after the other: each route span ends in order, none before it started
    ends = [routes[name].end for name in ("route s1", "route s2", "route s3")]
    assert ends == sorted(ends)
    assert routes["route s1"].end <= router.decided["Research wind power"][1]


async def test_route_spans_hang_under_the_plan_span_of_the_ask() -> None:
    tracer = MemoryTracer()
    answer = await Orchestrator([research, compare], tracer=tracer).ask(
        "Research solar power. Then compare it."
    )
    (plan,) = tracer.by_kind("plan")
    (run,) = tracer.by_kind("run")
    assert plan.name == "plan" and plan.status == "ok" and plan.parent_id is None
    assert plan.run_id == answer.run_id and plan.trace_id == run.trace_id
    assert plan.end <= run.start
    assert [s["action"] for s in plan.attributes["output"]] == ["research", "compare"]
    routes = tracer.by_kind("route")
    assert len(routes) == 2
    for route in routes:
        assert route.parent_id == plan.span_id
        assert plan.start <= route.start and route.end <= plan.end


async def test_the_planner_model_requests_sit_under_the_plan_span_too() -> None:
    plan = Plan(subtasks=[Subtask(id="r", description="Research facts", capability="research")])
    tracer = MemoryTracer()
    async with OpenAIServer(FunctionModel(lambda r: json_output(plan))) as server:
        await Orchestrator(
            [research], planner=LLMPlanner(base_url=server.base_url), tracer=tracer
        ).ask("Research facts")
    (span,) = tracer.by_kind("plan")
    (llm,) = tracer.by_kind("llm")
    (route,) = tracer.by_kind("route")
    assert llm.parent_id == span.span_id and route.parent_id == span.span_id
    assert span.start <= llm.start <= llm.end <= route.start


class Remembers:
    """An experience store that offers one past plan for every task."""

    async def lookup(self, task: str) -> Recall:
        past = Plan(subtasks=[Subtask(id="s1", description=task, capability="research")])
        return Recall(plan=past, record="rec-1", task=task, similarity=0.97, why="same task")

    async def record(self, experience: Experience) -> None:
        return None


async def test_a_reused_plan_has_its_memory_span_and_routes_under_the_plan_span() -> None:
    tracer = MemoryTracer()
    answer = await Orchestrator([research, compare], experience=Remembers(), tracer=tracer).ask(
        "Research otters."
    )
    assert answer.reuse is not None
    (plan,) = tracer.by_kind("plan")
    (memory,) = tracer.by_kind("memory")
    (route,) = tracer.by_kind("route")
    assert memory.parent_id == plan.span_id and route.parent_id == plan.span_id
    assert plan.attributes["weft.reused"] == "rec-1"


async def test_an_ask_that_found_no_plan_keeps_its_plan_span_under_the_failed_ask() -> None:
    tracer = MemoryTracer()
    router = LexicalRouter()
    orchestrator = Orchestrator([research, compare], router=router, tracer=tracer)
    with pytest.raises(PlanningError):
        await orchestrator.ask("Bake a cake. Paint the fence.")
    (plan,) = tracer.by_kind("plan")
    (ask,) = tracer.by_kind("run")
    assert ask.name == "ask" and ask.status == "failed"
    assert plan.parent_id == ask.span_id and plan.status == "error"
    assert plan.start == ask.start and plan.end <= ask.end
    assert "no agent fits subtask s1 'Bake a cake'" in ask.attributes["error"].message


async def test_no_agent_fits_names_the_subtask_its_text_and_why() -> None:
    class Refuses(LexicalRouter):
        async def route(self, request: RouteRequest) -> RoutingDecision:
            if "fence" not in request.text:
                return await super().route(request)
            return RoutingDecision(
                request=request,
                candidates=[
                    Candidate(agent_id="research", version=1, score=0.2),
                    Candidate(agent_id="compare", version=1, score=0.1),
                ],
            )

    with pytest.raises(PlanningError) as refused:
        await Orchestrator([research, compare], router=Refuses()).ask(
            "Research solar power. Paint the fence."
        )
    message = str(refused.value)
    assert "no agent fits subtask s2 'Paint the fence' (capability 'paint fence')" in message
    assert "best: research 0.20, compare 0.10" in message
    assert "the agents are compare, research" in message
    assert "subtask s1" not in message


def test_weft_trace_show_nests_the_routes_under_the_plan(tmp_path: Path) -> None:
    agents = tmp_path / "team.py"
    agents.write_text(
        "from weft import tool\n\n"
        "@tool\ndef research(topic: str) -> str:\n"
        '    """Research facts about a topic."""\n'
        "    return topic\n\n"
        "@tool\ndef compare(text: str) -> str:\n"
        '    """Compare findings side by side."""\n'
        "    return text\n\n"
        "agents = [research, compare]\n"
    )
    runner = CliRunner()
    asked = runner.invoke(
        cli,
        [
            "ask",
            "Research solar. Research wind. Finally compare them.",
            "--agents",
            str(agents),
            "--planner",
            "rules",
            "--router",
            "lexical",
            "--no-memory",
            "--journal",
            str(tmp_path / "journal.db"),
        ],
        catch_exceptions=False,
    )
    assert asked.exit_code == 0, asked.output
    shown = runner.invoke(cli, ["trace", "show", "last"], catch_exceptions=False)
    lines = shown.stdout.splitlines()
    (plan,) = [i for i, line in enumerate(lines) if "  plan  plan  " in line]
    routes = [i for i, line in enumerate(lines) if "  route s" in line]
    assert len(routes) == 3
    assert lines[plan].startswith("├── ")  # a root of the trace, beside the run
    for i in routes:
        assert lines[i].startswith("│   ├── ") or lines[i].startswith("│   └── "), lines[i]
        assert i > plan


async def test_an_ask_given_a_workflow_plans_nothing_and_has_no_plan_span(
    tmp_path: Path,
) -> None:
    tracer = MemoryTracer()
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nnodes: [")
    with pytest.raises(WeftError, match=r"broken\.yaml"):
        await Orchestrator([research], tracer=tracer).ask("Research otters", workflow=broken)
    assert tracer.by_kind("plan") == []
    (ask,) = tracer.by_kind("run")
    assert ask.attributes["weft.stage"] == "compile"


async def test_a_rejected_plan_is_traced_with_its_routes_under_the_plan_span() -> None:
    """The planner's first plan has a subtask no agent fits, so it is dropped and the planner
    asked again: the trace says so, with the routing that rejected it."""
    bad = Plan(
        subtasks=[
            Subtask(id="a", description="Research facts", capability="research"),
            Subtask(id="b", description="Bake a cake", capability="bake cake"),
        ]
    )
    good = Plan(subtasks=[Subtask(id="r", description="Research facts", capability="research")])
    answers = iter([bad, good])
    tracer = MemoryTracer()
    async with OpenAIServer(FunctionModel(lambda r: json_output(next(answers)))) as server:
        answer = await Orchestrator(
            [research, compare], planner=LLMPlanner(base_url=server.base_url), tracer=tracer
        ).ask("Research facts")
    assert answer.ok and len(answer.plan_failures) == 1
    (plan,) = tracer.by_kind("plan")
    (rejected,) = tracer.by_kind("note")
    assert rejected.name == "rejected plan 1" and rejected.parent_id == plan.span_id
    assert rejected.attributes["weft.note"].startswith(
        "plan rejected: no agent fits subtask b 'Bake a cake'"
    )
    assert [s["id"] for s in rejected.attributes["weft.plan"]] == ["a", "b"]
    routes = {s.name: s for s in tracer.by_kind("route")}
    assert {n: (s.parent_id, s.status) for n, s in routes.items()} == {
        "route a": (rejected.span_id, "ok"),
        "route b": (rejected.span_id, "error"),
        "route r": (plan.span_id, "ok"),  # the accepted plan's, as before
    }
    assert routes["route b"].attributes["weft.action"] is None
    assert routes["route a"].attributes["weft.action"] == "research"


def test_weft_trace_show_tells_why_a_plan_was_dropped(tmp_path: Path) -> None:
    agents = tmp_path / "team.py"
    agents.write_text(
        "from weft import tool\n\n"
        "@tool\ndef research(topic: str) -> str:\n"
        '    """Research facts about a topic."""\n'
        "    return topic\n\n"
        "@tool\ndef compare(text: str) -> str:\n"
        '    """Compare findings side by side."""\n'
        "    return text\n\n"
        "agents = [research, compare]\n"
    )
    runner = CliRunner()
    asked = runner.invoke(
        cli,
        [
            "ask",
            "Research solar. Paint the fence.",
            "--agents",
            str(agents),
            "--planner",
            "rules",
            "--router",
            "lexical",
            "--no-memory",
            "--journal",
            str(tmp_path / "journal.db"),
        ],
    )
    assert asked.exit_code == 2, asked.output
    assert "no agent fits subtask s2" in asked.output
    shown = runner.invoke(cli, ["trace", "show", "last"], catch_exceptions=False)
    text = shown.stdout
    assert "rejected plan 1" in text, text
    assert "note: plan rejected: no agent fits subtask s2 'Paint the fence'" in text
    lines = text.splitlines()
    (note,) = [i for i, line in enumerate(lines) if "rejected plan 1" in line]
    routes = [i for i, line in enumerate(lines) if "route s" in line]
    assert len(routes) == 2 and all(i > note for i in routes)
    assert any("→ no agent fits" in line for line in lines[routes[1] :])
