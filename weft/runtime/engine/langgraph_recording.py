"""What a run on LangGraph's engine leaves in weft's journal and trace store, around its nodes.

On LangGraph's engine the nodes' calls are made by weft's own ``NodeCalls``
(``to_langgraph``), so their events, spans, secret masking and resume cache
are weft's engine's, written by the same code. What the executor does around
those calls is done here, in the same shapes as ``executor.Executor``: open the
run in the journal (a new run with its lease, or a resumed one taking the lease
back), keep the lease alive while the run goes (``lease.LeaseKeeper``), announce
the run, and at its end record its final state and its ``run`` span, the root
of every node span. So ``weft runs``, ``weft trace show|view`` and ``weft resume``
read a LangGraph-engine run as they read one of weft's engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import EventKind, RunEvent, RunState, Usage
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.executor import Executor
from weft.runtime.engine.lease import Lease, LeaseKeeper
from weft.runtime.tracing.spans import SpanRecord, new_span_id, trace_id_for


@dataclass
class RunRecording:
    """The journal row, lease and run span of one run on LangGraph's engine.

    ``open`` before the graph runs (it raises ``WeftError`` for a run id already
    in the journal, ``RunInProgressError`` for a resumed run another process
    holds), ``stop`` when it stopped, then ``close`` with how it ended, or
    ``release`` when it died of an internal error (resumable at once).
    """

    executor: Executor
    prepared: PreparedWorkflow
    inputs: dict[str, Any]
    run_id: str
    resumed: bool = False
    #: A lease the caller already took (``resume_langgraph``), else taken by ``open``.
    lease: Lease | None = None
    started: float = field(default_factory=time.time)
    span_id: str = field(default_factory=new_span_id)
    keeper: LeaseKeeper | None = None

    @property
    def trace_id(self) -> str:
        return trace_id_for(self.run_id)

    def open(self) -> None:
        """Journal the run (or mark a resumed one running), announce it, keep its lease."""
        executor, prepared = self.executor, self.prepared
        journal = executor.journal
        if journal is not None and self.lease is None:
            if self.resumed:
                self.lease, _ = journal.acquire_lease(self.run_id)
            else:
                self.lease = journal.start_run(
                    self.run_id, prepared.name, prepared.source, prepared.graph_hash, self.inputs
                )
        executor.emit(
            RunEvent(
                run_id=self.run_id,
                kind=EventKind.RUN_RESUMED if self.resumed else EventKind.RUN_STARTED,
                at=self.started,
                state=RunState.RUNNING,
                data={
                    "workflow": prepared.name,
                    "nodes": len(prepared.nodes),
                    "inputs": self.inputs,
                    "engine": "langgraph",
                },
            )
        )
        begin = getattr(executor.tracer, "begin_run", None)  # a tracer of the user's may lack it
        if begin is not None:  # named in trace listings while it runs
            begin(self.run_id, prepared.name)
        if journal is not None:
            if self.resumed:
                journal.set_run_state(self.run_id, RunState.RUNNING)
            assert self.lease is not None
            self.keeper = LeaseKeeper(self.lease, journal.refresh_lease)
            self.keeper.start()

    async def stop(self) -> None:
        """Stop renewing the lease (the graph has stopped)."""
        if self.keeper is not None:
            await self.keeper.stop()

    @property
    def lost(self) -> bool:
        """Whether another process took the run's lease over while it ran."""
        return self.keeper is not None and self.keeper.lost

    def close(self, state: RunState, outputs: Any, error: str | None, usage: Usage) -> None:
        """Record how the run ended (journal and listeners) and its run span; give the
        lease back. A run whose lease was taken over writes only its span."""
        executor = self.executor
        if not self.lost:
            executor.emit(
                RunEvent(
                    run_id=self.run_id,
                    kind=EventKind.RUN_FINISHED,
                    at=time.time(),
                    state=state,
                    output=outputs,
                    data={"error": error} if error else {},
                )
            )
            if executor.journal is not None and self.lease is not None:
                executor.journal.end_run(self.lease, state, outputs)
        self.trace(state, outputs, error, usage)

    def release(self) -> None:
        """Give the lease back without ending the run: it stopped on an internal error."""
        if self.executor.journal is not None and self.lease is not None:
            self.executor.journal.release_lease(self.lease)

    def trace(self, state: RunState, outputs: Any, error: str | None, usage: Usage) -> None:
        """The run's span, with the attributes ``Executor`` gives it (the graph too, for
        ``weft trace view``), and ``weft.engine: langgraph``."""
        tracer = self.executor.tracer
        if tracer is None:
            return
        tracer.record(
            SpanRecord(
                trace_id=self.trace_id,
                span_id=self.span_id,
                parent_id=None,
                name=self.prepared.name,
                kind="run",
                start=self.started,
                end=time.time(),
                status=state.value,
                run_id=self.run_id,
                attributes={
                    "input": self.inputs,
                    "output": outputs,
                    "error": error,
                    "usage": usage.model_dump(),
                    "graph_hash": self.prepared.graph_hash,
                    "weft.graph": self.prepared,
                    "weft.engine": "langgraph",
                },
            )
        )
        tracer.flush()
