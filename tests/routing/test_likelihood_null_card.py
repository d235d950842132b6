""" "No agent fits" from the likelihood stage: the best card must make the request likelier
than a card-less prompt does.

The embedding scores alone route "Drive the delivery van to the warehouse." to
some card of the users' set (bench/data/user_cards.yaml), none of which drives
anything; SmolLM2 finds the request no more likely after that card than after
an assistant-for-anything prompt, so the stage answers "no agent fits" and
says why, in the router, in ``weft route``, and in the reason capability
nodes and the orchestrator give. Real weights: a missing model fails, it does
not skip.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from weft.cli import cli
from weft.cli._cards_file import user_card_fields
from weft.protocols import CapabilityCard, RouteRequest
from weft.protocols.route_refusal import NULL_GAIN, stage_refusal
from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights
from weft.runtime.routing.embeddings import MiniLMEmbedder

from .conftest import RouteAmong

_likelihood = importlib.import_module("weft.runtime.routing.likelihood")

CARDS = Path(__file__).resolve().parents[2] / "bench" / "data" / "user_cards.yaml"
#: No card of the users' set fits these, yet the embedding stage picks one.
NO_FIT = ["Drive the delivery van to the warehouse.", "Repair the leaking tap in my kitchen."]
#: Fitting requests of the same set, which must still be routed.
FITTING = [
    ("Translate this support ticket from a Spanish customer into English.", "translator"),
    (
        "The recipe asks for 2 cups of flour, how many grams or millilitres is that?",
        "unit_converter",
    ),
]


@pytest.fixture(scope="module")
def cards() -> list[CapabilityCard]:
    raw = yaml.safe_load(CARDS.read_text())["cards"]
    return [CapabilityCard.model_validate(user_card_fields(c)) for c in raw]


async def test_a_card_that_makes_the_request_no_likelier_is_no_fit(
    route_among: RouteAmong, cards: list[CapabilityCard]
) -> None:
    chooser = _likelihood.LikelihoodChooser()
    without_rule = _likelihood.LikelihoodChooser(min_gain=None)
    for text in NO_FIT:
        plain = await route_among(cards, text, None)
        assert plain.chosen is not None, text  # the embedding stage alone routes it
        decision = await route_among(cards, text, chooser)
        assert decision.chosen is None, text
        first = decision.candidates[0]
        assert first.parts[NULL_GAIN] < 0 and "likelihood" in first.parts
        reason = stage_refusal(decision)
        assert reason is not None and f"({first.agent_id})" in reason
        assert "no more likely than no card does" in reason
        # min_gain=None: the stage only re-ranks, as before
        kept = await route_among(cards, text, without_rule)
        assert kept.chosen is not None and NULL_GAIN not in kept.candidates[0].parts
    for text, agent in FITTING:
        decision = await route_among(cards, text, chooser)
        assert decision.chosen is not None and decision.chosen.agent_id == agent, text


async def test_a_lone_card_is_checked_too(minilm: MiniLMEmbedder) -> None:
    """One agent is no choice to make, but it still must make the request likelier."""
    translator = CapabilityCard(
        agent_id="translator",
        description="Translates documents and emails between languages.",
        skills=["translation", "localisation"],
    )
    chooser = _likelihood.LikelihoodChooser()
    # No minimum score: the embedding stage alone would route anything to the translator.
    lenient = ScoringWeights(min_score=-1.0)
    router = CapabilityRouter.open(minilm, learn=False, chooser=chooser, weights=lenient)
    try:
        router.add_cards([translator])
        walk = await router.route(RouteRequest(text="Walk my dog at 6pm."))
        assert walk.chosen is None and walk.candidates[0].parts[NULL_GAIN] < 0
        kept = await router.route(RouteRequest(text="Translate this email into German."))
        assert kept.chosen is not None and kept.chosen.agent_id == "translator"
    finally:
        router.close()


def test_weft_route_says_why_no_agent_fits() -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["route", NO_FIT[0], "--cards", str(CARDS)])
    assert shown.exit_code == 1, shown.output  # no agent chosen
    assert "no agent fits: the best card (" in shown.output
    assert "no more likely than no card does (likelihood gain -" in shown.output
    as_json = runner.invoke(cli, ["route", NO_FIT[0], "--cards", str(CARDS), "--json"])
    assert as_json.exit_code == 1, as_json.output
    assert json.loads(as_json.output)["chosen"] is None
