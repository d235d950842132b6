"""What an execution uses of the executor that runs it.

``executor.Executor`` owns what outlives one run (journal, listeners, tracer,
limits shared across runs); ``scheduler.Execution`` and ``node_calls.NodeCalls``
run one workflow with it. They see it only through this protocol, so the
executor imports them and never the other way round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from weft.protocols import ErrorInfo, EventKind, RunEvent, Usage
from weft.runtime.tracing.spans import Tracer


class ExecutorServices(Protocol):
    """Events, tracing and the concurrency limits shared by every run of one executor."""

    @property
    def tracer(self) -> Tracer | None:
        """Where spans go, or None when the run is not traced."""
        ...

    @property
    def quiet(self) -> bool:
        """True when nobody reads events (no journal, no listener): do not build them."""
        ...

    @property
    def global_limit(self) -> asyncio.Semaphore | None:
        """Bounds the action calls in flight across all runs, if set."""
        ...

    def durable_commit(self, run_id: str) -> Callable[[], Awaitable[None]] | None:
        """For a run in durable mode, what a finished call awaits before anything that depends
        on it may start (its journal commit, on disk); None otherwise."""
        ...

    def action_limit(self, name: str, limit: int | None) -> asyncio.Semaphore | None:
        """The semaphore shared by every call of action ``name`` (None: unbounded)."""
        ...

    def emit(self, event: RunEvent) -> None:
        """Hand ``event`` to the journal and the listeners."""
        ...

    def record(
        self,
        run_id: str,
        kind: EventKind,
        node: str | None,
        key: str | None,
        state: str | None,
        attempt: int | None = None,
        output: Any = None,
        error: ErrorInfo | None = None,
        usage: Usage | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """``emit`` from plain fields: a node's events are many, and most go only to the
        journal, which needs no ``RunEvent``."""
        ...
