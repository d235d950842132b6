"""Helpers of a running ask: spans from outside the executor (planner calls, route
decisions, notes), budgets, a trace that ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from weft.protocols import ErrorInfo, EventKind, RunEvent, RunState, Usage, WeftError
from weft.runtime.engine.outcomes import RunResult, UsageTally
from weft.runtime.orchestrator.plan import OrchestratorBudget
from weft.runtime.orchestrator.routing import RouteChoice
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id, trace_id_for


class SpanSink:
    """Lets model calls outside the executor (the planner) record spans into the run's trace."""

    def __init__(self, tracer: Tracer | None, run_id: str, node: str) -> None:
        self.tracer = tracer
        self.run_id = run_id
        self.node = node

    def record_span(self, span: Mapping[str, Any]) -> None:
        if self.tracer is None:
            return
        self.tracer.record(
            SpanRecord(
                trace_id=trace_id_for(self.run_id),
                span_id=new_span_id(),
                parent_id=None,
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


class BudgetWatch:
    """Sums node usage as results arrive and stops the run when a limit is passed."""

    def __init__(self, budget: OrchestratorBudget, already: Usage) -> None:
        self.budget = budget
        self.tally = UsageTally()
        self.tally.add(already)
        self.reason: str | None = None
        self.task: asyncio.Task[RunResult] | None = None

    def __call__(self, event: RunEvent) -> None:
        # top-level node results only: foreach items ("[i]") and sub-workflow
        # nodes ("/") are already inside their parent's usage
        if event.kind is not EventKind.NODE_FINISHED or event.usage is None:
            return
        if event.key and ("[" in event.key or "/" in event.key):
            return
        self.tally.add(event.usage)
        spent = self.tally.total()
        tokens = spent.prompt_tokens + spent.completion_tokens
        if self.budget.max_tokens is not None and tokens > self.budget.max_tokens:
            self.stop(f"token budget exceeded: {tokens} > {self.budget.max_tokens}")
        elif self.budget.max_cost is not None and spent.cost > self.budget.max_cost:
            self.stop(f"cost budget exceeded: ${spent.cost:.4f} > ${self.budget.max_cost:.4f}")

    def stop(self, reason: str) -> None:
        if self.reason is None and self.task is not None and not self.task.done():
            self.reason = reason
            self.task.cancel()


class UnstartedRun:
    """Ends the trace of an ask that fails before its workflow runs.

    The executor records the run span of every run it starts, however it
    ends. Before that, while the ask plans, routes and compiles, the
    planner's LLM requests and the routing decisions are already in the trace
    under the run's id, and without a run span the trace store would list the
    run as running forever. Used as a context manager around the whole ask:
    on an exception, unless ``executing`` was set (the executor has the run
    from then on), it records a root ``run`` span named ``ask``, ``failed``
    (``cancelled`` for a cancellation or Ctrl-C), with the task as input, the
    error, the stage that failed (``weft.stage``), and for a planning error
    the planner's usage and every rejected plan (``weft.plan_failures``).
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

    def __enter__(self) -> UnstartedRun:
        return self

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
        self.tracer.record(
            SpanRecord(
                trace_id=trace_id_for(self.run_id),
                span_id=new_span_id(),
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
) -> None:
    """A zero-length span: something the orchestrator decided on its own, at one moment."""
    if tracer is None:
        return
    now = time.time()
    tracer.record(
        SpanRecord(
            trace_id=trace_id_for(run_id),
            span_id=new_span_id(),
            parent_id=None,
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


def trace_note(tracer: Tracer | None, run_id: str, note: str) -> None:
    """A ``note`` span saying what the orchestrator did on its own (a planner fallback)."""
    trace_instant(tracer, run_id, "planner fallback", "note", {"weft.note": note})


def trace_routes(tracer: Tracer | None, run_id: str, choices: list[RouteChoice]) -> None:
    """A ``route`` span per subtask: the router's candidates and the action chosen."""
    if tracer is None:
        return
    now = time.time()
    for choice in choices:
        decision = choice.decision
        tracer.record(
            SpanRecord(
                trace_id=trace_id_for(run_id),
                span_id=new_span_id(),
                parent_id=None,
                name=f"route {choice.subtask}",
                kind="route",
                start=now - decision.latency_s,
                end=now,
                status="ok" if choice.action else "error",
                run_id=run_id,
                node=choice.subtask,
                attributes={
                    "weft.capability": decision.request.capability,
                    "weft.action": choice.action,
                    "candidates": [c.model_dump() for c in decision.candidates],
                },
            )
        )
