"""CapabilityRouter: filters, not-skills, load, learning from outcomes, tracing, accuracy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from weft.protocols import CapabilityCard, Router, RouteRequest, RoutingDecision
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import HashingEmbedder, MiniLMEmbedder
from weft.runtime.tracing.spans import MemoryTracer

from .conftest import card

WRITERS = [
    card(
        "sql",
        "Writes SQL queries against the warehouse.",
        skills=["join and aggregate tables"],
        tags=["data"],
        cost_per_call=0.01,
    ),
    card(
        "sql_premium",
        "Writes SQL queries against the warehouse.",
        skills=["join and aggregate tables"],
        tags=["data", "pii-approved"],
        cost_per_call=0.2,
    ),
    card("poet", "Writes poems about the sea.", skills=["rhyming verse"], tags=["fun"]),
]


async def test_the_router_implements_the_protocol(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    router = router_for(hashing, WRITERS)
    assert isinstance(router, Router)
    decision = await router.route(RouteRequest(text="join the orders and customers tables"))
    assert decision.chosen is not None and decision.chosen.agent_id == "sql"
    assert decision.embedding_model == "weft/hashing-384"
    first = decision.candidates[0]
    assert first.agent_id == "sql"
    assert first.score == pytest.approx(sum(first.parts.values()), abs=1e-5)
    assert {"best", "mean", "lexical", "not_skill", "cost", "load", "success"} <= set(first.parts)


async def test_required_tags_exclude_agents_and_say_why(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    router = router_for(hashing, WRITERS)
    decision = await router.route(
        RouteRequest(text="join the orders and customers tables", required_tags=["pii-approved"])
    )
    assert decision.chosen is not None and decision.chosen.agent_id == "sql_premium"
    excluded = {c.agent_id: c.excluded for c in decision.candidates if c.excluded}
    assert excluded["sql"] == "missing tags: pii-approved"


async def test_budget_excludes_expensive_agents(router_for: Any, hashing: HashingEmbedder) -> None:
    router = router_for(hashing, WRITERS)
    decision = await router.route(
        RouteRequest(text="aggregate sales with SQL", required_tags=["data"], max_cost=0.05)
    )
    assert decision.chosen is not None and decision.chosen.agent_id == "sql"
    assert any(c.agent_id == "sql_premium" and "over budget" in (c.excluded or "")
               for c in decision.candidates)  # fmt: skip


async def test_only_alive_agents_are_chosen(router_for: Any, hashing: HashingEmbedder) -> None:
    router = router_for(hashing, WRITERS, alive={"sql_premium", "poet"})
    decision = await router.route(RouteRequest(text="join and aggregate tables"))
    assert decision.chosen is not None and decision.chosen.agent_id == "sql_premium"
    assert [c.excluded for c in decision.candidates if c.agent_id == "sql"] == ["not alive"]


async def test_no_qualifying_agent_means_no_choice(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    router = router_for(hashing, WRITERS)
    decision = await router.route(RouteRequest(text="write SQL", required_tags=["legal"]))
    assert decision.chosen is None
    assert decision.candidates and all(c.excluded for c in decision.candidates)


async def test_load_breaks_a_tie_between_equal_agents(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    twins = [card("a", "Writes SQL queries."), card("b", "Writes SQL queries.")]
    router = router_for(hashing, twins)
    router.set_load("a", 0.9)
    decision = await router.route(RouteRequest(text="write SQL queries"))
    assert decision.chosen is not None and decision.chosen.agent_id == "b"
    assert next(c for c in decision.candidates if c.agent_id == "a").load == 0.9


async def test_a_newer_card_version_changes_the_decision(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    router = router_for(hashing, WRITERS)
    await router.upsert(card("poet", "Writes sonnets and SQL queries about the sea.", version=2,
                             skills=["SQL queries in rhyming verse"]))  # fmt: skip
    await router.upsert(card("poet", "Writes nothing.", version=1))  # older: ignored
    decision = await router.route(RouteRequest(text="SQL queries in rhyming verse"))
    assert decision.chosen is not None and decision.chosen.agent_id == "poet"
    assert decision.chosen.version == 2


async def test_a_subtask_matching_a_not_skill_goes_to_the_other_agent(
    router_for: Any, minilm: MiniLMEmbedder
) -> None:
    # Both cards talk about tests and code; only the not_skills tell them apart.
    reviewer = card(
        "reviewer",
        "Works on code quality for pull requests and their tests.",
        skills=["comment on code and test changes in a pull request"],
        not_skills=["writing new unit tests"],
    )
    tester = card(
        "tester",
        "Works on code quality for pull requests and their tests.",
        skills=["comment on code and test changes in a pull request"],
        not_skills=["reviewing pull requests"],
    )
    router = router_for(minilm, [reviewer, tester])
    decision = await router.route(RouteRequest(text="Write new unit tests for the parser."))
    assert decision.chosen is not None and decision.chosen.agent_id == "tester"
    penalised = next(c for c in decision.candidates if c.agent_id == "reviewer")
    assert penalised.parts["not_skill"] < 0
    assert "not: writing new unit tests" in (penalised.evidence or "")


async def test_past_failures_on_similar_subtasks_change_a_close_decision(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    twins = [card("a", "Cleans messy CSV files."), card("b", "Cleans messy CSV files.")]
    router = router_for(hashing, twins)
    request = RouteRequest(text="clean the messy customer CSV file")
    first = await router.route(request)
    assert first.chosen is not None
    loser = first.chosen.agent_id
    for _ in range(3):
        await router.record_outcome(request, loser, success=False)
    similar = RouteRequest(text="clean the messy supplier CSV file")
    second = await router.route(similar)
    assert second.chosen is not None and second.chosen.agent_id != loser
    failed = next(c for c in second.candidates if c.agent_id == loser)
    assert failed.success_rate is not None and failed.success_rate < 0.5


async def test_outcomes_on_unrelated_subtasks_do_not_count(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    router = router_for(hashing, WRITERS)
    await router.record_outcome(RouteRequest(text="rhyming verse about whales"), "sql", False)
    decision = await router.route(RouteRequest(text="join and aggregate the orders tables"))
    assert next(c for c in decision.candidates if c.agent_id == "sql").success_rate is None


async def test_every_decision_is_traced_with_candidates_and_scores(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    tracer = MemoryTracer()
    router = router_for(hashing, WRITERS, tracer=tracer)
    await router.route(RouteRequest(text="write SQL", run_id="run-1", subtask_id="query"))
    (span,) = tracer.by_kind("route")
    assert span.run_id == "run-1" and span.node == "query" and span.agent == "sql"
    candidates = span.attributes["candidates"]
    assert candidates[0]["agent_id"] == "sql" and "parts" in candidates[0]
    assert span.attributes["route.embedding_model"] == "weft/hashing-384"


async def test_removed_agents_are_not_routed_to(router_for: Any, hashing: HashingEmbedder) -> None:
    router = router_for(hashing, WRITERS)
    await router.remove("sql")
    decision = await router.route(RouteRequest(text="join and aggregate tables"))
    assert decision.chosen is not None and decision.chosen.agent_id == "sql_premium"


async def test_concurrent_decisions_agree_with_sequential_ones(
    router_for: Any, hashing: HashingEmbedder
) -> None:
    router = router_for(hashing, WRITERS)
    texts = ["write SQL", "a poem about the sea", "aggregate tables"] * 5
    together = await asyncio.gather(*(router.route(RouteRequest(text=t)) for t in texts))
    alone = [await router.route(RouteRequest(text=t)) for t in texts]

    def chosen(decisions: list[RoutingDecision]) -> list[str | None]:
        return [d.chosen.agent_id if d.chosen else None for d in decisions]

    assert chosen(list(together)) == chosen(alone)


async def _accuracy(router: CapabilityRouter, tasks: list[dict[str, str]]) -> float:
    decisions = await router.route_many(
        RouteRequest(text=task["text"], capability=task["capability"]) for task in tasks
    )
    right = sum(
        d.chosen is not None and d.chosen.agent_id == t["agent"]
        for d, t in zip(decisions, tasks, strict=True)
    )
    return right / len(tasks)


async def test_minilm_routes_a_labelled_subset_well_and_better_than_hashing(
    router_for: Any,
    minilm: MiniLMEmbedder,
    hashing: HashingEmbedder,
    subset: tuple[list[CapabilityCard], list[dict[str, str]]],
) -> None:
    cards, tasks = subset
    assert len(cards) == 12 and len(tasks) >= 30
    minilm_accuracy = await _accuracy(router_for(minilm, cards), tasks)
    hashing_accuracy = await _accuracy(router_for(hashing, cards), tasks)
    assert minilm_accuracy >= 0.8, minilm_accuracy
    assert minilm_accuracy >= hashing_accuracy + 0.2, (minilm_accuracy, hashing_accuracy)
