"""Option types the CLI shares: numbers that must be finite.

``click.FloatRange`` lets ``nan`` through (every comparison with it is false),
so ``--threshold nan`` or ``--max-cost nan`` reached pydantic, or a loop, as a
traceback or a silent no-op. ``Finite`` refuses ``nan`` and the infinities as
usage errors, then applies the range.
"""

from __future__ import annotations

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
