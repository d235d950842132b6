"""Cards from anyone, subtasks of any length: the likelihood stage reads a bounded part.

A pasted manual as a card's description made one decision take 96 s and
keep 210 MB of cache (a 4,500-token prompt); a pasted document as a
subtask would be scored token by token. Both are clipped, and the stage
still orders candidates by what the first part says. Real weights.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from weft.protocols import CapabilityCard

_likelihood = importlib.import_module("weft.runtime.routing.likelihood")
_chooser = importlib.import_module("weft.runtime.routing.likelihood.chooser")

MANUAL = " ".join(["Books invoices, receipts and expenses for small firms."] * 400)


@pytest.fixture(scope="module")
def scorer() -> Iterator[Any]:
    try:
        made = _likelihood.LikelihoodScorer()
        made.model  # noqa: B018 -- load now: a missing model fails here, clearly
    except _likelihood.LikelihoodModelError as exc:
        pytest.fail(f"the likelihood model cannot load: {exc}")
    yield made


def card(agent_id: str, description: str, **fields: Any) -> CapabilityCard:
    return CapabilityCard(agent_id=agent_id, description=description, **fields)


def test_a_huge_card_makes_a_bounded_prompt(scorer: Any) -> None:
    huge = card(
        "bookkeeper",
        MANUAL,
        skills=[f"skill number {i}" for i in range(200)],
        examples=[MANUAL[:2000]] * 10,
    )
    prompt = _likelihood.card_prompt(huge)
    limits = _chooser.PROMPT_LIMITS
    assert prompt.count("skill number") == limits.skills
    assert prompt.count('"Books invoices') == limits.examples
    assert " ..." in prompt  # clipped where it was cut, at a space
    assert len(scorer.token_ids(prompt)) < 700
    assert prompt.endswith('A typical request a user sends to this assistant:\n"')


def test_a_short_card_is_left_whole() -> None:
    small = card("translator", "Translates text between languages.", skills=["translation"])
    assert " ..." not in _likelihood.card_prompt(small)
    assert "Translates text between languages." in _likelihood.card_prompt(small)


def test_a_long_subtask_is_scored_on_its_first_tokens(scorer: Any) -> None:
    text = "Book this receipt for the office chairs. " + MANUAL
    ids = scorer.subtask_ids(text)
    assert len(ids) == _chooser.PROMPT_LIMITS.subtask_tokens
    assert ids == scorer.token_ids(text)[: len(ids)]
    short = "Book this receipt."
    assert scorer.subtask_ids(short) == scorer.token_ids(short + '"')


def test_the_stage_still_ranks_with_a_huge_card_among_the_candidates(scorer: Any) -> None:
    cards = [
        card("bookkeeper", MANUAL, skills=["bookkeeping"]),
        card("translator", "Translates text between languages.", skills=["translation"]),
    ]
    scores = scorer.score("Book this receipt for the office chairs. " + MANUAL, cards)
    assert scores[0] > scores[1]
    assert all(p.length < 700 for p in scorer._prefixes.values())
