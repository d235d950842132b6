"""Option types the CLI shares: numbers that must be finite, a person's answers.

``click.FloatRange`` lets ``nan`` through (every comparison with it is false),
so ``--threshold nan`` or ``--max-cost nan`` reached pydantic, or a loop, as a
traceback or a silent no-op. ``Finite`` refuses ``nan`` and the infinities as
usage errors, then applies the range.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click


class Finite(click.FloatRange):
    """A finite float, optionally within ``FloatRange``'s bounds."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


class Answer(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.2 on
    """``NODE=VALUE`` for ``weft resume --answer``: VALUE read as JSON when it is JSON
    (``true``, ``3``, ``{"a": 1}``, ``"42"``), else taken as the text it is."""

    name = "NODE=VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        key, sep, text = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(
                f"{value!r} is not NODE=VALUE (the node that asked, then its answer).", param, ctx
            )
        try:
            answer = json.loads(text)
        except ValueError:
            answer = text
        return key.strip(), answer


def answers_of(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The ``--answer`` options as one mapping; a node answered twice is a usage error."""
    answers: dict[str, Any] = {}
    for key, answer in pairs:
        if key in answers:
            raise click.BadParameter(f"'{key}' is answered twice", param_hint="'--answer'")
        answers[key] = answer
    return answers
