"""One stemmer for every lexical scorer: the router's terms and the keyword router's words."""

from __future__ import annotations

import pytest

from weft.runtime.routing.capability_router import terms
from weft.runtime.routing.lexical_router import keywords
from weft.runtime.routing.text import stem


@pytest.mark.parametrize("word", ["writer", "writing", "writes", "writ"])
def test_forms_of_one_word_meet_at_one_stem(word: str) -> None:
    assert stem(word) == "writ"


@pytest.mark.parametrize(
    ("word", "expected"),
    [("specialists", "special"), ("statistical", "statistic"), ("requirements", "require")],
)
def test_one_suffix_is_stripped(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_a_short_word_keeps_three_letters() -> None:
    assert [stem(w) for w in ("uses", "red", "ring")] == ["use", "red", "ring"]


def test_the_capability_router_and_the_keyword_router_stem_alike() -> None:
    text = "specialists writing statistical reports"
    assert terms(text) == keywords(text) == ["special", "writ", "statistic", "report"]
