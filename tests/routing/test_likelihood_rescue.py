"""A weak embedding match the likelihood stage vouches for is routed, not refused.

Requests written as chat ("a column called 'amount' suddenly became a string
in the events table upstream. what else changed?") score low on every card of
the blind third set (bench/data/third_cards.yaml), the right one included, so
the embedding stage alone answers "no agent fits". SmolLM2 finds such a request
far likelier after the right card than after a card-less prompt; at a gain of
``rescue_gain`` or more the stage overrules the refusal. A request no card fits
that the embedding stage refused stays refused: its gain is small. Real
weights: a missing model fails, it does not skip.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from weft.cli._cards_file import user_card_fields
from weft.protocols import CapabilityCard
from weft.protocols.route_refusal import NULL_GAIN

from .conftest import RouteAmong

_likelihood = importlib.import_module("weft.runtime.routing.likelihood")

CARDS = Path(__file__).resolve().parents[2] / "bench" / "data" / "third_cards.yaml"
#: Fitting requests the embedding stage refuses (best score under the weak-match level).
WEAK_BUT_FITTING = [
    ("need a build matrix for python 3.10-3.13 on linux + mac", "pipeline_fixer"),
    (
        "a column called 'amount' suddenly became a string in the events table upstream. "
        "what else changed?",
        "data_quality",
    ),
]
#: No card fits; the embedding stage refuses it, and the stage must not overrule that.
REFUSED_NO_FIT = "Go and queue for the concert tickets at the box office tomorrow morning."


@pytest.fixture(scope="module")
def cards() -> list[CapabilityCard]:
    raw = yaml.safe_load(CARDS.read_text())["cards"]
    return [CapabilityCard.model_validate(user_card_fields(c)) for c in raw]


async def test_a_weak_match_the_card_makes_likely_is_routed(
    route_among: RouteAmong, cards: list[CapabilityCard]
) -> None:
    chooser = _likelihood.LikelihoodChooser()
    for text, agent in WEAK_BUT_FITTING:
        plain = await route_among(cards, text, None)
        assert plain.chosen is None, text  # the embedding stage alone refuses it
        decision = await route_among(cards, text, chooser)
        assert decision.chosen is not None and decision.chosen.agent_id == agent, text
        first = decision.candidates[0]
        assert first.agent_id == agent
        assert first.parts[NULL_GAIN] >= chooser.rescue_gain
        assert first.evidence is not None and "a weak match the card makes likely" in first.evidence


async def test_without_rescue_the_refusal_stands(
    route_among: RouteAmong, cards: list[CapabilityCard]
) -> None:
    text, _ = WEAK_BUT_FITTING[0]
    decision = await route_among(cards, text, _likelihood.LikelihoodChooser(rescue_gain=None))
    assert decision.chosen is None
    assert "likelihood" not in decision.candidates[0].parts


async def test_a_refused_request_no_card_fits_stays_refused(
    route_among: RouteAmong, cards: list[CapabilityCard]
) -> None:
    plain = await route_among(cards, REFUSED_NO_FIT, None)
    assert plain.chosen is None
    decision = await route_among(cards, REFUSED_NO_FIT, _likelihood.LikelihoodChooser())
    assert decision.chosen is None
    assert decision.candidates[0].agent_id == plain.candidates[0].agent_id  # unchanged
