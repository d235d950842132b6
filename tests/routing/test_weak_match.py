"""A weak best score counts only when it stands out: the calibrated no-fit rule.

With MiniLM a no-fit request ("compose a symphony") and a vague fitting one
("look over Dana's merge request") can score alike, near 0.43; what tells them
apart is whether the best card leads the runner-up. Both requests are from the
users' labelled set (bench/data/user_tasks.jsonl), routed over its cards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from weft.cli._cards_file import user_card_fields
from weft.protocols import CapabilityCard, RouteRequest
from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights
from weft.runtime.routing.embeddings import MiniLMEmbedder

CARDS = Path(__file__).resolve().parents[2] / "bench" / "data" / "user_cards.yaml"


@pytest.fixture(scope="module")
def router(minilm: MiniLMEmbedder) -> Iterator[CapabilityRouter]:
    raw = yaml.safe_load(CARDS.read_text())["cards"]
    routing = CapabilityRouter.open(minilm, learn=False)
    routing.add_cards(CapabilityCard.model_validate(user_card_fields(c)) for c in raw)
    yield routing
    routing.close()


async def test_a_low_score_that_leads_clearly_is_still_a_choice(router: CapabilityRouter) -> None:
    text = "Look over Dana's merge request for the login page and tell her what to change."
    decision = await router.route(RouteRequest(text=text))
    best, second = decision.candidates[0], decision.candidates[1]
    assert best.score < router.weak_match[0]  # a weak match ...
    assert best.score - second.score >= router.weak_match[1]  # ... that stands out
    assert decision.chosen is not None and decision.chosen.agent_id == "code_review"


async def test_a_low_score_level_with_the_runner_up_is_no_fit(router: CapabilityRouter) -> None:
    decision = await router.route(RouteRequest(text="Compose a symphony for a full orchestra."))
    best, second = decision.candidates[0], decision.candidates[1]
    assert router.min_score <= best.score < router.weak_match[0]  # over the floor, but weak
    assert best.score - second.score < router.weak_match[1]  # and level with the next
    assert decision.chosen is None


def test_an_explicit_minimum_turns_the_calibrated_band_off(minilm: MiniLMEmbedder) -> None:
    router = CapabilityRouter.open(minilm, learn=False, weights=ScoringWeights(min_score=0.3))
    try:
        assert router.weak_match[0] == float("-inf")
        assert router.fits(0.31, [0.309])
        banded = dataclasses.replace(router.weights, weak_score=0.5, weak_margin=0.05)
        router.weights = banded
        assert not router.fits(0.31, [0.30]) and router.fits(0.31, [0.2]) and router.fits(0.31, [])
        assert not router.fits(0.29, [])
    finally:
        router.close()
