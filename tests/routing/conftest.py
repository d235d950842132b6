"""Fixtures for the routing tests: the MiniLM model once per session, cards, routers.

Every index here is real embedded Chroma (in memory, or under ``tmp_path``
when a test reopens it); nothing touches the network. The MiniLM weights load
once (about 0.1 s) and its embeddings of the labelled cards are computed once
per session, because at a few hundred sentences a second they are the slow part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from weft.protocols import CapabilityCard, RouteRequest, RoutingDecision
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import HashingEmbedder, MiniLMEmbedder

BENCH_DATA = Path(__file__).resolve().parents[2] / "bench" / "data"

#: Agents of the small labelled subset used by the accuracy test: close pairs included.
SUBSET = (
    "code_reviewer",
    "test_writer",
    "debugger",
    "chart_maker",
    "statistician",
    "forecaster",
    "translator",
    "proofreader",
    "sql_analyst",
    "data_cleaner",
    "web_researcher",
    "fact_checker",
)


def _load(name: str) -> Any:
    return yaml.safe_load((BENCH_DATA / name).read_text())


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The default embedder, loaded once; fails (does not skip) when the model is missing."""
    return MiniLMEmbedder().load()


@pytest.fixture(scope="session")
def labelled_cards() -> list[CapabilityCard]:
    return [CapabilityCard(**a) for a in _load("agents.yaml")["agents"]]


@pytest.fixture(scope="session")
def labelled_subtasks() -> list[dict[str, str]]:
    return list(_load("subtasks.yaml")["subtasks"])


@pytest.fixture(scope="session")
def subset(
    labelled_cards: list[CapabilityCard], labelled_subtasks: list[dict[str, str]]
) -> tuple[list[CapabilityCard], list[dict[str, str]]]:
    """Twelve close agents and the holdout-half subtasks labelled with them."""
    cards = [c for c in labelled_cards if c.agent_id in SUBSET]
    tasks = [
        s
        for s in labelled_subtasks
        if s["agent"] in SUBSET and hashlib.sha256(s["id"].encode()).digest()[0] % 2 == 1
    ]
    return cards, tasks


@pytest.fixture
def hashing() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def router_for(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``router_for(embedder, cards, **options)``: an in-memory router, closed after the test."""
    made: list[CapabilityRouter] = []

    def make(embedder: Any, cards: list[CapabilityCard], **options: Any) -> CapabilityRouter:
        router = CapabilityRouter.open(embedder, **options)
        router.add_cards(cards)
        made.append(router)
        return router

    yield make
    for router in made:
        router.close()


def card(agent_id: str, description: str, **fields: Any) -> CapabilityCard:
    """A capability card with defaults for the fields a test does not care about."""
    return CapabilityCard(agent_id=agent_id, description=description, **fields)


RouteAmong = Callable[[list[CapabilityCard], str, Any], Awaitable[RoutingDecision]]


@pytest.fixture
def route_among(minilm: MiniLMEmbedder) -> RouteAmong:
    """``await route_among(cards, text, chooser)``: one decision of a fresh in-memory
    router over ``cards`` with MiniLM, no outcome learning, ``chooser`` as its last stage."""

    async def route(cards: list[CapabilityCard], text: str, chooser: Any) -> RoutingDecision:
        router = CapabilityRouter.open(minilm, learn=False, chooser=chooser)
        try:
            router.add_cards(cards)
            return await router.route(RouteRequest(text=text))
        finally:
            router.close()

    return route
