"""A tool whose types cannot be described says which parameter, not pydantic's essay."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from weft.agents import tool

if TYPE_CHECKING:
    from decimal import Decimal


class Thing:
    """An arbitrary class: pydantic cannot make a JSON Schema of it."""


def test_a_parameter_of_an_arbitrary_class_is_named() -> None:
    def weird(t: Thing, n: int) -> str:
        return "x"

    with pytest.raises(TypeError, match=r"^@tool weird: parameter 't' has type Thing, which has"):
        tool(weird)


def test_a_parameter_holding_an_arbitrary_class_shows_the_whole_type() -> None:
    def many(things: list[Thing]) -> str:
        return "x"

    with pytest.raises(TypeError, match=r"parameter 'things' has type list\[.*Thing\]"):
        tool(many)


def test_a_return_type_without_a_schema_is_named() -> None:
    def make(n: int) -> Thing:
        return Thing()

    with pytest.raises(TypeError, match=r"^@tool make: its return type Thing has no JSON Schema"):
        tool(make)


def test_a_type_hint_that_cannot_be_resolved_is_named() -> None:
    def price(amount: Decimal) -> str:  # Decimal is imported only for type checkers
        return str(amount)

    with pytest.raises(TypeError, match=r"^@tool price: cannot resolve its type hints"):
        tool(price)
