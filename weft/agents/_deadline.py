"""A foreign call bounded by the weft call's deadline, for adapters that wrap one (MCP, LangGraph).

The adapter's own work may raise ``TimeoutError`` too (a graph node's, an HTTP
client's): that one is the action's failure, reported with the exception, not
a missed deadline. Only the deadline this helper set turns into a ``timeout``
result, and it is retryable, as every missed deadline in weft is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from weft.protocols import ActionCall, ActionResult, ActionState

T = TypeVar("T")


def deadline_passed(call_id: str, label: str, when: str = "") -> ActionResult:
    """The ``timeout`` result of a call to ``label`` whose deadline passed (``when``)."""
    return ActionResult.failure(
        call_id,
        "Timeout",
        f"{label}: the call's deadline passed {when}".rstrip(),
        state=ActionState.TIMEOUT,
        retryable=True,
    )


async def within_deadline(
    call: ActionCall, label: str, work: Callable[[], Awaitable[T]]
) -> T | ActionResult:
    """``work()``'s value, or a ``timeout`` result when ``call.deadline`` passed before or
    while it ran; a ``TimeoutError`` of the work's own is an error result naming ``label``.
    Every other exception passes to the caller, which knows what its kind means."""
    remaining = None if call.deadline is None else call.deadline - time.time()
    if remaining is not None and remaining <= 0:
        return deadline_passed(call.call_id, label, "before it started")
    deadline = asyncio.timeout(remaining)
    try:
        async with deadline:
            return await work()
    except TimeoutError as exc:
        if deadline.expired():
            return deadline_passed(call.call_id, label)
        return ActionResult.from_exception(call.call_id, exc, source=label)
