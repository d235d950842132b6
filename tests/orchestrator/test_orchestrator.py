"""Orchestrator.ask: plan, route, run in parallel, aggregate, within budgets, with seams."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from weft import Workflow, tool
from weft.agents import DEFAULT_PRICES, LLMAgent
from weft.protocols import (
    Candidate,
    CapabilityCard,
    RouteRequest,
    RoutingDecision,
    RunState,
    WeftError,
)
from weft.runtime.engine.journal import Journal
from weft.runtime.orchestrator import (
    Experience,
    LLMAggregator,
    LLMPlanner,
    Orchestrator,
    OrchestratorBudget,
    Plan,
    PlanningError,
    RulePlanner,
    Subtask,
    split_task,
)
from weft.runtime.tracing.spans import MemoryTracer
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, Reply, json_output, text


class Overlap:
    """Counts calls in flight; ``enter`` returns only once ``n`` calls are in at the same time."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.inflight = 0
        self.peak = 0
        self.all_in = asyncio.Event()

    async def enter(self) -> None:
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        if self.inflight >= self.n:
            self.all_in.set()
        await asyncio.wait_for(self.all_in.wait(), timeout=5)

    def leave(self) -> None:
        self.inflight -= 1


async def test_independent_subtasks_run_concurrently() -> None:
    overlap = Overlap(3)

    @tool
    async def research(topic: str) -> str:
        """Research facts about a topic."""
        await overlap.enter()
        overlap.leave()
        return f"facts on {topic.lower()}"

    @tool
    def compare(text: str) -> str:
        """Compare findings side by side."""
        return "compared: " + text.replace("\n\n", " | ")

    answer = await Orchestrator([research, compare]).ask(
        "Research solar. Research wind. Research hydro. Finally compare them."
    )
    assert answer.ok, answer.error
    assert overlap.peak == 3  # all three research subtasks were in flight together
    assert answer.routes == {"s1": "research", "s2": "research", "s3": "research", "s4": "compare"}
    assert answer.results["s4"] == (
        "compared: facts on research solar | facts on research wind | facts on research hydro"
    )


async def test_the_rule_planner_chains_then_steps_and_passes_outputs_along() -> None:
    @tool
    def fetch(query: str) -> str:
        """Fetch the weather report."""
        return "sunny and 21 degrees"

    @tool
    def shout(text: str) -> str:
        """Shout a message in capitals."""
        return text.upper()

    answer = await Orchestrator([fetch, shout]).ask("Fetch the weather report, then shout it.")
    assert answer.plan is not None
    assert [(s.id, s.depends_on) for s in answer.plan.subtasks] == [("s1", []), ("s2", ["s1"])]
    assert answer.results == {"s1": "sunny and 21 degrees", "s2": "SUNNY AND 21 DEGREES"}
    assert "## Shout it\n\nSUNNY AND 21 DEGREES" in answer.answer
    assert answer.plan_failures == []


def test_rule_planner_splits_bullets_sentences_and_sequencing_words() -> None:
    assert split_task("Plan:\n- find hotels\n- book a flight\n") == [
        ("free", "Find hotels"),
        ("free", "Book a flight"),
    ]
    assert split_task("Draft the post and then review it. Finally publish.") == [
        ("free", "Draft the post"),
        ("after_previous", "Review it"),
        ("after_all", "Publish"),
    ]
    plan = RulePlanner().build("A. B. C. D. E.", max_subtasks=3)
    assert [s.description for s in plan.subtasks] == ["A", "B", "C D E"]


async def test_llm_agents_get_their_dependencies_outputs_as_context() -> None:
    plan = Plan(
        subtasks=[
            Subtask(id="facts", description="Collect facts on bees", capability="research"),
            Subtask(
                id="essay",
                description="Write an essay on bees",
                capability="writing",
                depends_on=["facts"],
                expected_output="three paragraphs",
            ),
        ]
    )

    def answer(request: ModelRequest) -> Reply:
        if "planner" in request.system:
            return json_output(plan)
        if request.system == "research":
            return text("Bees dance.", usage=(5, 2))
        return text("An essay.", usage=(9, 3))

    model = FunctionModel(answer)
    async with OpenAIServer(model) as server:
        agents = [
            LLMAgent(
                "researcher", instructions="research", skills=["research"], base_url=server.base_url
            ),
            LLMAgent(
                "writer", instructions="writing", skills=["writing"], base_url=server.base_url
            ),
        ]
        result = await Orchestrator(agents, planner=LLMPlanner(base_url=server.base_url)).ask(
            "An essay on bees"
        )
    assert result.ok, result.error
    assert result.routes == {"facts": "researcher", "essay": "writer"}
    essay_request = next(r for r in model.requests if r.system == "writing")
    assert essay_request.last_user_text == (
        "Write an essay on bees\n\nExpected output: three paragraphs\n\n"
        'Context:\n{\n  "facts": "Bees dance."\n}'
    )
    # the ledger: planner + both agents, exactly
    planner_usage = result.planner_usage
    assert result.usage.llm_calls == planner_usage.llm_calls + 2 == 3
    assert result.usage.prompt_tokens == planner_usage.prompt_tokens + 5 + 9
    assert result.usage.completion_tokens == planner_usage.completion_tokens + 2 + 3
    assert result.usage.cost == pytest.approx(
        DEFAULT_PRICES["gpt-4o-mini"].cost(
            result.usage.prompt_tokens, result.usage.completion_tokens
        )
    )


async def test_the_llm_aggregator_synthesises_from_all_results() -> None:
    @tool
    def research(topic: str) -> str:
        """Research facts about a topic."""
        return f"facts on {topic}"

    model = FunctionModel(lambda r: text("One synthesised answer.", usage=(11, 4)))
    async with OpenAIServer(model) as server:
        answer = await Orchestrator(
            [research], aggregator=LLMAggregator(base_url=server.base_url)
        ).ask("Research cats. Research dogs.")
    assert answer.answer == "One synthesised answer."
    [request] = model.requests
    assert "Task: Research cats. Research dogs." in request.last_user_text
    assert "### s1: Research cats\nfacts on Research cats" in request.last_user_text
    assert answer.usage.llm_calls == 1 and answer.usage.prompt_tokens == 11


async def test_going_over_the_token_budget_stops_the_run(tmp_path: Path) -> None:
    never = asyncio.Event()

    def answer(request: ModelRequest) -> Reply:
        return text("long answer", usage=(800, 300))

    @tool
    async def slow(topic: str) -> str:
        """Slow research that would go on and on."""
        await never.wait()
        return "never"

    model = FunctionModel(answer)
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("fast", skills=["summarise text"], base_url=server.base_url)
        orchestrator = Orchestrator(
            [agent, slow], budget=OrchestratorBudget(max_tokens=1000), journal=journal
        )
        answer_ = await orchestrator.ask("Summarise text quickly. Slow research forever.")
    assert answer_.state is RunState.CANCELLED
    assert answer_.error == "token budget exceeded: 1100 > 1000"
    assert answer_.usage.prompt_tokens == 800
    assert journal.get_run(answer_.run_id).state is RunState.CANCELLED
    journal.close()


async def test_going_over_the_time_budget_stops_the_run() -> None:
    never = asyncio.Event()

    @tool
    async def wait(topic: str) -> str:
        """Wait for something that never happens."""
        await never.wait()
        return "never"

    answer = await Orchestrator([wait], budget=OrchestratorBudget(max_time=0.05)).ask("Wait.")
    assert answer.state is RunState.CANCELLED
    assert answer.error == "time budget exceeded: 0.05s"
    assert not answer.ok and answer.answer is None


async def test_a_plan_expected_to_break_the_cost_budget_never_runs() -> None:
    calls: list[str] = []

    @tool(card=CapabilityCard(agent_id="pricey", description="Research deeply", cost_per_call=2.0))
    def pricey(topic: str) -> str:
        calls.append(topic)
        return "expensive facts"

    orchestrator = Orchestrator([pricey], budget=OrchestratorBudget(max_cost=1.0))
    with pytest.raises(PlanningError, match=r"expected to cost \$2.0000"):
        await orchestrator.ask("Research deeply.")
    assert calls == []


class PickLast:
    """A Router of our own: always the most recently upserted card; remembers everything."""

    def __init__(self) -> None:
        self.cards: list[CapabilityCard] = []
        self.requests: list[RouteRequest] = []
        self.outcomes: list[tuple[str, bool]] = []

    async def route(self, request: RouteRequest) -> RoutingDecision:
        self.requests.append(request)
        card = self.cards[-1]
        return RoutingDecision(
            request=request,
            chosen=card,
            candidates=[Candidate(agent_id=card.agent_id, version=card.version, score=1.0)],
        )

    async def upsert(self, card: CapabilityCard) -> None:
        self.cards.append(card)

    async def remove(self, agent_id: str) -> None:
        return None

    async def record_outcome(self, request: RouteRequest, agent_id: str, success: bool) -> None:
        self.outcomes.append((agent_id, success))


async def test_any_router_implementing_the_protocol_is_used_and_learns_outcomes() -> None:
    @tool(card=CapabilityCard(agent_id="agent-7", description="does things"))
    def seventh(task_text: str) -> str:
        return "done by seven"

    @tool
    def other(topic: str) -> str:
        """Research facts."""
        return "other"

    router = PickLast()
    answer = await Orchestrator([other, seventh], router=router).ask("Research facts.")
    assert answer.routes == {"s1": "seventh"}
    assert [c.agent_id for c in router.cards] == ["other", "agent-7"]
    assert router.requests[0].capability == "research facts"
    assert router.outcomes == [("agent-7", True)]
    assert answer.decisions["s1"].chosen is not None


class Remember:
    def __init__(self, hint: Plan | None) -> None:
        self.hint = hint
        self.lookups: list[str] = []
        self.recorded: list[Experience] = []

    async def lookup(self, task: str) -> Plan | None:
        self.lookups.append(task)
        return self.hint

    async def record(self, experience: Experience) -> None:
        self.recorded.append(experience)


async def test_experience_is_looked_up_before_planning_and_recorded_after() -> None:
    hint = Plan(subtasks=[Subtask(id="old", description="Research it", capability="research")])
    store = Remember(hint)

    @tool
    def research(topic: str) -> str:
        """Research facts."""
        return "facts"

    model = FunctionModel(lambda r: json_output(hint))
    async with OpenAIServer(model) as server:
        answer = await Orchestrator(
            [research], planner=LLMPlanner(base_url=server.base_url), experience=store
        ).ask("Research it")
    assert store.lookups == ["Research it"]
    assert hint.model_dump_json() in model.requests[0].system
    [experience] = store.recorded
    assert experience.succeeded and experience.run_id == answer.run_id
    assert experience.routes == {"old": "research"}


async def test_routing_decisions_and_planner_calls_are_traced() -> None:
    @tool
    def research(topic: str) -> str:
        """Research facts."""
        return "facts"

    plan = Plan(subtasks=[Subtask(id="r", description="Research facts", capability="research")])
    tracer = MemoryTracer()
    async with OpenAIServer(FunctionModel(lambda r: json_output(plan))) as server:
        answer = await Orchestrator(
            [research], planner=LLMPlanner(base_url=server.base_url), tracer=tracer
        ).ask("Research facts")
    [route] = tracer.by_kind("route")
    assert route.node == "r" and route.attributes["weft.action"] == "research"
    assert route.run_id == answer.run_id
    [llm] = tracer.by_kind("llm")
    assert llm.node == "plan" and llm.attributes["llm.attempts"] == 1
    assert {s.kind for s in tracer.spans} >= {"run", "node", "route", "llm"}


async def test_a_given_workflow_runs_on_the_task_without_planning() -> None:
    @tool
    def shout(text: str) -> str:
        return text.upper()

    wf = Workflow("fixed")
    wf.input("task", type="string")
    wf.node("shout", shout, with_={"text": "${inputs.task}"})
    wf.output("answer", "${shout}")
    answer = await Orchestrator([shout]).ask("hello", workflow=wf)
    assert answer.ok and answer.answer == "HELLO"
    assert answer.plan is None


async def test_no_routable_agents_is_a_clear_error() -> None:
    @tool
    def two_args(a: int, b: int) -> int:
        return a + b

    with pytest.raises(WeftError, match="no agents to route to"):
        await Orchestrator([two_args]).ask("Add things.")
