"""Option types the CLI shares: numbers that must be finite, a person's answers, run ids,
model endpoints.

``click.FloatRange`` lets ``nan`` through (every comparison with it is false),
so ``--threshold nan`` or ``--max-cost nan`` reached pydantic, or a loop, as a
traceback or a silent no-op. ``Finite`` refuses ``nan`` and the infinities as
usage errors, then applies the range.
"""

from __future__ import annotations

import json
import math
import re
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


#: What ``--run-id`` accepts: a run id names files (``weft trace view`` writes
#: ``views/RUN.html``) and is typed back on command lines (``weft resume RUN``).
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class RunId(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.2 on
    """A run id chosen by the user: letters, digits, ``.``, ``_`` and ``-``, at most 128.

    ``--run-id 'q3 report/final'`` used to be taken as it was, and its HTML view
    went to a folder ``views/q3 report/`` (``../`` would have left ``views``).
    """

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not _RUN_ID.fullmatch(str(value)):
            self.fail(
                f"{value!r} is not a run id: use 1 to 128 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit.",
                param,
                ctx,
            )
        return str(value)


class Endpoint(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.2 on
    """An OpenAI-compatible endpoint (``--base-url``): an http(s) URL, refused as a usage
    error otherwise, instead of every model call failing later with ``Connection error.``."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from weft.agents.chat_settings import endpoint_problem

        problem = endpoint_problem(str(value))
        if problem is not None:
            self.fail(problem, param, ctx)
        return value
