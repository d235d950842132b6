"""The ask's time budget while it plans: a planner that does not answer stops the ask.

``OrchestratorBudget.max_time`` bounds the whole ask, not only its run: a
planner's model that hangs (a server that accepts the connection and never
answers) would otherwise hold ``weft ask --max-time 5`` for as long as the
model's own timeout and retries allow, minutes with the defaults. Planning
that outlasts the budget ends as a ``PlanningError`` whose last failure is of
kind ``budget`` (nothing ran); the run then gets what planning left of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from weft.runtime.orchestrator.answer import PlanningError
from weft.runtime.orchestrator.plan import PlanFailure

T = TypeVar("T")


async def within_time(limit: float | None, planning: Awaitable[T]) -> T:
    """``await planning``, stopped with a ``budget`` ``PlanningError`` after ``limit`` s."""
    if limit is None:
        return await planning
    try:
        async with asyncio.timeout(limit):
            return await planning
    except TimeoutError:
        failure = PlanFailure(
            attempt=1,
            kind="budget",
            message=f"time budget exceeded: {limit:g}s while planning (the planner had "
            "not given an acceptable plan; nothing ran)",
        )
        raise PlanningError([failure]) from None
