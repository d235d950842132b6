"""Ending background tasks: every owner of tasks ends them the same way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks``, then wait until each has ended, so none outlives its owner.

    All are cancelled before any is awaited: a task that waits on another one
    being cancelled cannot hold up the rest.
    """
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task
