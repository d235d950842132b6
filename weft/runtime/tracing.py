"""Spans: every run, node, action call, retry and critic review, with OpenTelemetry ids.

The executor hands finished spans to a ``Tracer``. Spans are plain slotted
records, not pydantic models, because one is made per call on the hot path;
stores and exporters convert them when they write, in batches.

Ids follow OpenTelemetry: a trace id is 32 hex characters (the run's id when
that is already 32 hex, else a hash of it), a span id 16. A call's span id is
its ``call_id``, so a remote agent that receives the call over the bus (with
``traceparent``) parents its own spans correctly without extra fields.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from random import getrandbits
from typing import Any

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def new_span_id() -> str:
    """A random non-zero 64-bit span id as 16 hex characters.

    Drawn from ``random`` like OpenTelemetry's own id generator: uniqueness,
    not secrecy, is what a span id needs, and it is half the cost of
    ``os.urandom`` (``random`` is re-seeded in forked children).
    """
    return "%016x" % (getrandbits(64) or 1)


def trace_id_for(run_id: str) -> str:
    """The trace id of a run: the run id itself when it is 32 hex chars, else its hash."""
    if _HEX32.match(run_id):
        return run_id
    return hashlib.sha256(run_id.encode()).hexdigest()[:32]


def traceparent(trace_id: str, span_id: str) -> str:
    """The W3C ``traceparent`` header value for a sampled span."""
    return f"00-{trace_id}-{span_id[:16]}-01"


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """``(trace_id, parent_span_id)`` from a ``traceparent`` value, or None if malformed."""
    parts = value.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    return parts[1], parts[2]


@dataclass(slots=True)
class SpanRecord:
    """One finished span. ``kind`` is run, node, call, critic, llm, route or memory.

    ``attributes`` may hold pydantic models (usage, error) and arbitrary
    outputs as they are: stores serialise, truncate and redact when they write,
    off the executor's hot path.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    start: float
    end: float
    status: str
    run_id: str | None = None
    node: str | None = None
    agent: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


class Tracer:
    """Receives finished spans. The base class drops them; subclasses store or export."""

    def record(self, span: SpanRecord) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.flush()


class MemoryTracer(Tracer):
    """Keeps spans in a list: for tests and for code that inspects a run in-process."""

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)

    def by_kind(self, kind: str) -> list[SpanRecord]:
        return [s for s in self.spans if s.kind == kind]


class FanOutTracer(Tracer):
    """Sends every span to several tracers (e.g. the local store and an OTLP exporter)."""

    def __init__(self, *tracers: Tracer) -> None:
        self.tracers = list(tracers)

    def record(self, span: SpanRecord) -> None:
        for tracer in self.tracers:
            tracer.record(span)

    def flush(self) -> None:
        for tracer in self.tracers:
            tracer.flush()

    def close(self) -> None:
        for tracer in self.tracers:
            tracer.close()
