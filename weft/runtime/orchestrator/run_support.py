"""Helpers of a running ask: spans from outside the executor (planner calls, route
decisions, notes), budgets, a trace that ends, the engine that runs it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any

from weft.protocols import ErrorInfo, EventKind, RunEvent, RunState, Usage, WeftError
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.executor import Executor, Listener
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.outcomes import RunResult, UsageTally
from weft.runtime.orchestrator.plan import OrchestratorBudget
from weft.runtime.orchestrator.routing import RouteChoice
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id, trace_id_for


class SpanSink:
    """Lets model calls outside the executor (the planner) record spans into the run's trace,
    as children of ``parent_id`` (the ask's ``plan`` span)."""

    def __init__(
        self, tracer: Tracer | None, run_id: str, node: str, parent_id: str | None = None
    ) -> None:
        self.tracer = tracer
        self.run_id = run_id
        self.node = node
        self.parent_id = parent_id

    def record_span(self, span: Mapping[str, Any]) -> None:
        if self.tracer is None:
            return
        self.tracer.record(
            SpanRecord(
                trace_id=trace_id_for(self.run_id),
                span_id=span.get("span_id") or new_span_id(),
                parent_id=span.get("parent_id") or self.parent_id,
                name=str(span.get("name", "llm")),
                kind=str(span.get("kind", "llm")),
                start=float(span.get("start", time.time())),
                end=float(span.get("end", time.time())),
                status=str(span.get("status", "ok")),
                run_id=self.run_id,
                node=self.node,
                attributes=dict(span.get("attributes", {})),
            )
        )

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        return None


def on_engine(
    engine: str,
    prepared: PreparedWorkflow,
    inputs: dict[str, Any],
    run_id: str,
    *,
    journal: Journal | None,
    tracer: Tracer | None,
    listeners: Sequence[Listener],
    concurrency: int | None,
    resume: Mapping[str, Any],
) -> Coroutine[Any, Any, RunResult]:
    """The run of ``prepared`` on weft's executor, or on LangGraph's engine
    (``engine="langgraph"``: a resumed ask, whose ``resume`` options
    ``run_on_langgraph`` takes as ``Executor.run`` does); not yet started."""
    if engine != "langgraph":
        executor = Executor(
            journal=journal, listeners=listeners, concurrency=concurrency, tracer=tracer
        )
        return executor.run(prepared, inputs, run_id=run_id, **resume)
    from weft.runtime.engine.to_langgraph import run_on_langgraph

    return run_on_langgraph(
        prepared,
        inputs,
        run_id=run_id,
        listeners=listeners,
        journal=journal,
        tracer=tracer,
        concurrency=concurrency,
        **resume,
    )


class BudgetWatch:
    """Sums node usage as results arrive and stops the run when a limit is passed.

    The time budget's timer starts with the run (its ``run_started`` or
    ``run_resumed`` event), for what ``ran_s`` (earlier runs of a resumed ask)
    left of it: so a run the timer stopped has journaled at least that much
    running time, and a resume of it finds the budget used up (``resume_budget``).
    ``close`` when the run is over.

    It keeps the output of every top-level node that succeeded (``outputs``;
    ``cached``: those a resumed run serves from the journal), so an ask its
    budget stopped still has the results it paid for. Once the ``final`` node
    (the ask's answer node) has succeeded nothing is left to stop: a limit
    passed then (the synthesis itself went over, or the timer fired as the run
    ended) does not cancel the run, whose answer exists, and is kept in
    ``overran`` for the answer's notes.
    """

    def __init__(
        self,
        budget: OrchestratorBudget,
        already: Usage,
        ran_s: float = 0.0,
        *,
        final: str | None = None,
        cached: Mapping[str, Any] | None = None,
    ) -> None:
        self.budget = budget
        self.tally = UsageTally()
        self.tally.add(already)
        self.ran_s = ran_s
        self.final = final
        self.outputs: dict[str, Any] = {k: v for k, v in (cached or {}).items() if _top(k)}
        self.reason: str | None = None
        self.overran: str | None = None
        self.task: asyncio.Task[RunResult] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, event: RunEvent) -> None:
        if event.kind in (EventKind.RUN_STARTED, EventKind.RUN_RESUMED):
            self._start_timer()
            return
        # top-level node results only: foreach items ("[i]") and sub-workflow
        # nodes ("/") are already inside their parent's usage
        if event.kind is not EventKind.NODE_FINISHED or not _top(event.key or ""):
            return
        if event.key and event.state == "succeeded":
            self.outputs[event.key] = event.output
        if event.usage is None:
            return
        self.tally.add(event.usage)
        spent = self.tally.total()
        tokens = spent.prompt_tokens + spent.completion_tokens
        if self.budget.max_tokens is not None and tokens > self.budget.max_tokens:
            self.stop(f"token budget exceeded: {tokens} > {self.budget.max_tokens}")
        elif self.budget.max_cost is not None and spent.cost > self.budget.max_cost:
            self.stop(f"cost budget exceeded: ${spent.cost:.4f} > ${self.budget.max_cost:.4f}")

    def _start_timer(self) -> None:
        limit = self.budget.max_time
        if limit is None or self._timer is not None:
            return
        self._timer = asyncio.get_running_loop().call_later(
            max(limit - self.ran_s, 0.0), self.stop, f"time budget exceeded: {limit:g}s"
        )

    def stop(self, reason: str) -> None:
        if self.final is not None and self.final in self.outputs:
            self.overran = self.overran or reason  # the answer is made: nothing to save
            return
        if self.reason is None and self.task is not None and not self.task.done():
            self.reason = reason
            self.task.cancel()

    def close(self) -> None:
        """Stop the timer: the run is over."""
        if self._timer is not None:
            self._timer.cancel()


def _top(key: str) -> bool:
    """A top-level node's execution key: not a ``foreach`` item's, nor inside a sub-workflow."""
    return "[" not in key and "/" not in key


class UnstartedRun:
    """The trace of an ask before its workflow runs: its ``plan`` span, and its end
    when it fails there.

    Planning and routing happen before the executor starts the run (and makes
    its run span), so the ask records them under a span of its own: ``plan``
    (kind ``plan``), from the ask's start to the accepted plan, parent of the
    planner's LLM requests, a memory reuse, a planner fallback note and one
    ``route`` span per subtask. Its id (``plan_span``) is known from the
    start; the span itself is recorded by ``planned`` once a plan is accepted.

    The executor records the run span of every run it starts, however it
    ends. Before that, without a run span the trace store would list the run
    as running forever. Used as a context manager around the whole ask: on an
    exception, unless ``executing`` was set (the executor has the run from
    then on), it records a root ``run`` span named ``ask``, ``failed``
    (``cancelled`` for a cancellation or Ctrl-C), with the task as input, the
    error, the stage that failed (``weft.stage``), and for a planning error
    the planner's usage and every rejected plan (``weft.plan_failures``); the
    ``plan`` span, when planning did not end, is recorded under it (``error``
    or ``cancelled``; the error itself is said once, on the run span).
    """

    def __init__(self, tracer: Tracer | None, run_id: str, task: str, started: float) -> None:
        self.tracer = tracer
        self.run_id = run_id
        self.task = task
        self.started = started
        #: What the ask is doing: ``plan``, then ``compile``; recorded on failure.
        self.stage = "plan"
        #: Set when the executor takes the run over.
        self.executing = False
        #: The id of the ask's ``plan`` span: the parent of what planning and routing record.
        self.plan_span = new_span_id()
        self._planned = False

    def __enter__(self) -> UnstartedRun:
        return self

    def planned(self, attributes: dict[str, Any]) -> None:
        """Planning and routing are over: record the ``plan`` span with ``attributes``
        (the accepted subtasks and their routes)."""
        self._planned = True
        self._record_plan(None, "ok", {"input": {"task": self.task}, **attributes})

    def _record_plan(self, parent_id: str | None, status: str, attributes: dict[str, Any]) -> None:
        if self.tracer is None:
            return
        self.tracer.record(
            SpanRecord(
                trace_id=trace_id_for(self.run_id),
                span_id=self.plan_span,
                parent_id=parent_id,
                name="plan",
                kind="plan",
                start=self.started,
                end=time.time(),
                status=status,
                run_id=self.run_id,
                node="plan",
                attributes=attributes,
            )
        )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or self.executing or self.tracer is None:
            return
        cancelled = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
        if isinstance(exc, WeftError) or cancelled:
            error = ErrorInfo(type=type(exc).__name__, message=str(exc) or type(exc).__name__)
        else:  # a bug somewhere: keep where it was raised
            error = ErrorInfo.from_exception(exc, source="ask")
        failures = getattr(exc, "failures", None)
        usage = getattr(exc, "usage", None)
        run_span = new_span_id()
        if self.stage == "plan" and not self._planned:  # its error is said once, on the run span
            state = RunState.CANCELLED.value if cancelled else "error"
            self._record_plan(run_span, state, {"input": {"task": self.task}})
        self.tracer.record(
            SpanRecord(
                trace_id=trace_id_for(self.run_id),
                span_id=run_span,
                parent_id=None,
                name="ask",
                kind="run",
                start=self.started,
                end=time.time(),
                status=(RunState.CANCELLED if cancelled else RunState.FAILED).value,
                run_id=self.run_id,
                attributes={
                    "input": {"task": self.task},
                    "output": None,
                    "error": error,
                    "usage": usage if isinstance(usage, Usage) else Usage(),
                    "weft.stage": self.stage,
                    "weft.plan_failures": [
                        f.model_dump(mode="json")
                        for f in failures or ()
                        if hasattr(f, "model_dump")
                    ]
                    or None,
                },
            )
        )
        self.tracer.flush()


def trace_instant(
    tracer: Tracer | None,
    run_id: str,
    name: str,
    kind: str,
    attributes: dict[str, Any],
    *,
    status: str = "ok",
    node: str | None = None,
    parent_id: str | None = None,
) -> None:
    """A zero-length span: something the orchestrator decided on its own, at one moment."""
    if tracer is None:
        return
    now = time.time()
    tracer.record(
        SpanRecord(
            trace_id=trace_id_for(run_id),
            span_id=new_span_id(),
            parent_id=parent_id,
            name=name,
            kind=kind,
            start=now,
            end=now,
            status=status,
            run_id=run_id,
            node=node,
            attributes=attributes,
        )
    )


def trace_note(
    tracer: Tracer | None, run_id: str, note: str, *, parent_id: str | None = None
) -> None:
    """A ``note`` span saying what the orchestrator did on its own (a planner fallback)."""
    trace_instant(
        tracer, run_id, "planner fallback", "note", {"weft.note": note}, parent_id=parent_id
    )


def trace_routes(
    tracer: Tracer | None,
    run_id: str,
    choices: Sequence[RouteChoice],
    *,
    parent_id: str | None = None,
) -> None:
    """A ``route`` span per subtask, under ``parent_id`` (the ask's ``plan`` span): the
    router's candidates and the action chosen, from the moment the routing of that
    subtask started to the moment it ended (subtasks are routed concurrently, so
    these overlap). A choice without times (``started`` 0) ends now."""
    if tracer is None:
        return
    now = time.time()
    for choice in choices:
        decision = choice.decision
        end = choice.ended or now
        start = choice.started or end - decision.latency_s
        tracer.record(
            SpanRecord(
                trace_id=trace_id_for(run_id),
                span_id=new_span_id(),
                parent_id=parent_id,
                name=f"route {choice.subtask}",
                kind="route",
                start=start,
                end=end,
                status="ok" if choice.action else "error",
                run_id=run_id,
                node=choice.subtask,
                attributes={
                    "weft.capability": decision.request.capability,
                    "weft.action": choice.action,
                    "weft.skipped": dict(choice.skipped) or None,
                    "candidates": [c.model_dump() for c in decision.candidates],
                },
            )
        )
