"""The executor: runs prepared workflows and owns what is shared between runs.

It holds the journal, the listeners, the tracer and the concurrency limits
that span runs (``services.ExecutorServices``); the scheduling of one run
lives in ``scheduler.Execution``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from weft.protocols import (
    ErrorInfo,
    EventKind,
    JournalMode,
    RunEvent,
    RunState,
    Usage,
    new_id,
)
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.lease import Lease, LeaseKeeper
from weft.runtime.engine.outcomes import NodeOutcome, RunResult
from weft.runtime.engine.resume_states import for_listeners
from weft.runtime.engine.scheduler import Execution
from weft.runtime.engine.secret_flow import register_run
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id, trace_id_for

Listener = Callable[[RunEvent], None]

__all__ = ["Executor", "Listener", "NodeOutcome", "RunResult"]


class Executor:
    """Runs prepared workflows. One executor may run many workflows concurrently.

    ``concurrency`` bounds the number of action calls in flight across all
    runs of this executor (None: unbounded); a workflow's own ``concurrency``
    and per-action limits apply on top.
    """

    def __init__(
        self,
        *,
        journal: Journal | None = None,
        listeners: Sequence[Listener] = (),
        concurrency: int | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.journal = journal
        self.tracer = tracer
        self.listeners = list(listeners)
        self.global_limit = asyncio.Semaphore(concurrency) if concurrency else None
        self._action_limits: dict[str, asyncio.Semaphore] = {}

    @property
    def quiet(self) -> bool:
        """True when no journal and no listener reads events, so none need be built."""
        return self.journal is None and not self.listeners

    def add_listener(self, listener: Listener) -> None:
        """Add a listener; a run that started with no journal and no listener (``quiet``)
        builds no events, so it reaches only the runs that start after this."""
        self.listeners.append(listener)

    def emit(self, event: RunEvent) -> None:
        if self.journal is not None and event.kind is not EventKind.PROGRESS:
            self.journal.append(event)
        for listener in self.listeners:
            listener(event)

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
        """Emit a node event from plain fields; a ``RunEvent`` is built only for listeners."""
        at = time.time()
        if self.journal is not None:
            self.journal.record(
                run_id, at, kind, node, key, state, attempt, output, error, usage, data
            )
        if self.listeners:
            event = RunEvent(
                run_id=run_id,
                kind=kind,
                at=at,
                node=node,
                key=key,
                state=state,
                attempt=attempt,
                output=output,
                error=error,
                usage=usage,
                data=for_listeners(data),  # a call's saved state is the journal's alone
            )
            for listener in self.listeners:
                listener(event)

    def durable_commit(self, run_id: str) -> Callable[[], Awaitable[None]] | None:
        """What each finished call of ``run_id`` awaits in durable mode (its commit to disk,
        shared with the calls that finish beside it); None for a batched run."""
        journal = self.journal
        if journal is None or run_id not in journal.durable_runs:
            return None
        return journal.commit_soon

    def action_limit(self, name: str, limit: int | None) -> asyncio.Semaphore | None:
        if limit is None:
            return None
        sem = self._action_limits.get(name)
        if sem is None:
            sem = self._action_limits[name] = asyncio.Semaphore(limit)
        return sem

    async def run(
        self,
        workflow: PreparedWorkflow,
        inputs: dict[str, Any],
        *,
        run_id: str | None = None,
        cache: dict[str, Any] | None = None,
        resumed: bool = False,
        lease: Lease | None = None,
        journal_mode: JournalMode | str | None = None,
        answers: Mapping[str, list[Any]] | None = None,
        resume_states: Mapping[str, dict[str, Any]] | None = None,
    ) -> RunResult:
        """Run ``workflow`` with already-resolved ``inputs`` and return its result.

        ``cache`` holds the outputs of calls a resumed run already finished, by
        execution key, and ``answers`` a person's answers to the questions its
        calls asked (``engine.answers``), by execution key, and ``resume_states`` what
        the calls that asked saved to go on from (``Journal.resume_states``). Cancelling the task
        that awaits this cancels every node in flight, records them as
        cancelled, and re-raises ``CancelledError``.

        A journaled run holds a lease on its run id while it runs (``lease.py``):
        taken with the run's start, or for a resumed run from ``lease`` (one the
        caller took) or ``Journal.acquire_lease``, which raises
        ``RunInProgressError`` while another process runs it. If another process
        takes the lease over, this run stops with ``RunInProgressError``.

        The run's secret inputs (``secret_flow``) are registered before anything
        is journaled, so they are masked in every record of the run.

        ``journal_mode`` (default: the workflow's ``journal``) ``"durable"`` commits
        each finished call to disk before what depends on it starts
        (``Journal.hold_durable``); it means nothing without a journal.
        """
        run_id = run_id or new_id()
        register_run(inputs, workflow.secret_inputs, workflow.secret_literals)
        mode = JournalMode(journal_mode or workflow.spec.journal)
        durable = self.journal if mode is JournalMode.DURABLE else None
        if durable is not None:
            durable.hold_durable(run_id)
        try:
            return await self._run(
                workflow, inputs, run_id, cache, resumed, lease, answers, resume_states
            )
        finally:
            if durable is not None:
                durable.release_durable(run_id)

    async def _run(
        self,
        workflow: PreparedWorkflow,
        inputs: dict[str, Any],
        run_id: str,
        cache: dict[str, Any] | None,
        resumed: bool,
        lease: Lease | None,
        answers: Mapping[str, list[Any]] | None = None,
        resume_states: Mapping[str, dict[str, Any]] | None = None,
    ) -> RunResult:
        started = time.time()
        lease = self._open(workflow, inputs, run_id, started, resumed, lease)
        keeper = None
        if lease is not None and self.journal is not None:
            keeper = LeaseKeeper(lease, self.journal.refresh_lease)
            keeper.start()
        run_span = new_span_id()
        execution = Execution(
            self,
            workflow,
            inputs,
            run_id,
            prefix="",
            cache=cache or {},
            answers=answers or {},
            resume_states=resume_states or {},
            trace_id=trace_id_for(run_id),
            parent_id=run_span,
        )
        try:
            try:
                result = await execution.execute()
            finally:
                if keeper is not None:
                    await keeper.stop()
        except asyncio.CancelledError:
            cancelled = (execution, run_span, started, inputs, RunState.CANCELLED, None, None)
            if keeper is not None and keeper.lost:
                self._trace_run(*cancelled)
                holder = self.journal.lease(run_id) if self.journal is not None else None
                raise keeper.taken_over(holder) from None  # write nothing over the new holder
            self._close(run_id, RunState.CANCELLED, None, "cancelled", lease)
            self._trace_run(*cancelled)
            raise
        except BaseException:
            if lease is not None and self.journal is not None:
                self.journal.release_lease(lease)  # resumable at once, by anyone
            raise
        result.started_at = started
        self._close(run_id, result.state, result.outputs, result.error, lease)
        self._trace_run(
            execution, run_span, started, inputs, result.state, result.outputs, result.error
        )
        return result

    def _open(
        self,
        workflow: PreparedWorkflow,
        inputs: dict[str, Any],
        run_id: str,
        started: float,
        resumed: bool,
        lease: Lease | None,
    ) -> Lease | None:
        """Journal a new run (or mark a resumed one running again) and announce it;
        return the lease the run holds (None without a journal)."""
        if self.journal is not None and lease is None:
            if resumed:
                lease, _ = self.journal.acquire_lease(run_id)
            else:
                lease = self.journal.start_run(
                    run_id, workflow.name, workflow.source, workflow.graph_hash, inputs
                )
        self.emit(
            RunEvent(
                run_id=run_id,
                kind=EventKind.RUN_RESUMED if resumed else EventKind.RUN_STARTED,
                at=started,
                state=RunState.RUNNING,
                data={"workflow": workflow.name, "nodes": len(workflow.nodes), "inputs": inputs},
            )
        )
        if resumed and self.journal is not None:
            self.journal.set_run_state(run_id, RunState.RUNNING)
        begin = getattr(self.tracer, "begin_run", None)  # a tracer of the user's may lack it
        if begin is not None:  # named in trace listings while it runs
            begin(run_id, workflow.name)
        return lease

    def _close(
        self, run_id: str, state: RunState, outputs: Any, error: str | None, lease: Lease | None
    ) -> None:
        self.emit(
            RunEvent(
                run_id=run_id,
                kind=EventKind.RUN_FINISHED,
                at=time.time(),
                state=state,
                output=outputs,
                data={"error": error} if error else {},
            )
        )
        if self.journal is not None and lease is not None:
            self.journal.end_run(lease, state, outputs)

    def _trace_run(
        self,
        execution: Execution,
        span_id: str,
        started: float,
        inputs: dict[str, Any],
        state: RunState,
        outputs: Any,
        error: str | None,
    ) -> None:
        if self.tracer is None:
            return
        self.tracer.record(
            SpanRecord(
                trace_id=execution.trace_id,
                span_id=span_id,
                parent_id=None,
                name=execution.workflow.name,
                kind="run",
                start=started,
                end=time.time(),
                status=state.value,
                run_id=execution.run_id,
                attributes={
                    "input": inputs,
                    "output": outputs,
                    "error": error,
                    "usage": execution.tally.total().model_dump(),
                    "graph_hash": execution.workflow.graph_hash,
                    "weft.graph": execution.workflow,
                },
            )
        )
        self.tracer.flush()
