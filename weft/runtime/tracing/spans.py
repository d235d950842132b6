"""Spans: every run, node, action call, retry and critic review, with OpenTelemetry ids.

The executor hands finished spans to a ``Tracer``. Spans are plain slotted
records, not pydantic models, because one is made per call on the hot path;
stores and exporters convert them when they write, in batches. The one span
made for every node goes further: it is handed over as a short tuple in the
trace store's own row layout (``NODE_ROW``), which the store encodes without
touching it in Python; other tracers get a ``SpanRecord`` built from it.

Ids follow OpenTelemetry: a trace id is 32 hex characters (the run's id when
that is already 32 hex, else a hash of it), a span id 16. A call's span id is
its ``call_id``, so a remote agent that receives the call over the bus (with
``traceparent``) parents its own spans correctly without extra fields.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
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


def progress_attribute(events: Iterable[Any]) -> list[dict[str, Any]]:
    """A call's progress reports as its span's ``weft.progress`` attribute: the same form
    whether the call ran on an agent process or was served to an MCP/A2A client."""
    return [{"at": e.at, "message": e.message, "fraction": e.fraction} for e in events]


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


#: Attribute keys of a node span, in the order a node row holds their values.
NODE_ATTRIBUTES = (
    "weft.action",
    "input",
    "output",
    "weft.attempts",
    "weft.cached",
    "weft.foreach",
    "error",
    "usage",
)
#: The fields of a node row: ``(span_id, node, start, end, status, *values)`` where the
#: values follow ``NODE_ATTRIBUTES``; a row stops after ``output`` when the rest are
#: their defaults (1 attempt, not cached, not foreach, no error, no usage, no agent).
#: One more field, after ``usage``, is the span's ``agent`` when an agent in another
#: process answered the node's call. Times are Unix seconds; the name is the node key
#: without its ``#iteration``.
NODE_ROW = ("span_id", "node", "start", "end", "status")
NODE_DEFAULTS = (1, False, False, None, None)
NodeRow = tuple[Any, ...]


def node_name(key: str) -> str:
    """A node span's name from its execution key: ``a/b#3`` -> ``a/b``."""
    head, mark, tail = key.rpartition("#")
    return head if mark and tail.isdigit() else key


class NodeGroup:
    """The node spans of one execution (a run, or a sub-workflow inside it).

    They share run, trace and parent, so those are said once: an execution
    makes its group when it starts and hands it over with every node row.
    Hashed by identity: finding it is as cheap as a lookup gets.
    """

    __slots__ = ("parent_id", "run_id", "trace_id")

    def __init__(self, run_id: str, trace_id: str, parent_id: str | None) -> None:
        self.run_id = run_id
        self.trace_id = trace_id
        self.parent_id = parent_id


def span_from_node_row(group: NodeGroup, row: NodeRow) -> SpanRecord:
    """The ``SpanRecord`` a node row stands for."""
    span_id, key, start, end, status = row[:5]
    size = len(row)
    values = row[5:13] if size > 8 else (*row[5:], *NODE_DEFAULTS)
    return SpanRecord(
        trace_id=group.trace_id,
        span_id=span_id,
        parent_id=group.parent_id,
        name=node_name(key),
        kind="node",
        start=start,
        end=end,
        status=str(status),
        run_id=group.run_id,
        node=key,
        agent=row[13] if size > 13 else None,
        attributes=dict(zip(NODE_ATTRIBUTES, values, strict=True)),
    )


class Tracer:
    """Receives finished spans. The base class drops them; subclasses store or export."""

    def record(self, span: SpanRecord) -> None:
        return None

    def record_node(self, group: NodeGroup, row: NodeRow) -> None:
        """A node's span as a ``NODE_ROW`` tuple: one per node, so it skips ``SpanRecord``.

        Tracers that do not store rows as they are get the equivalent span.
        """
        self.record(span_from_node_row(group, row))

    def begin_run(self, run_id: str, workflow: str) -> None:
        """A run started: the name of its workflow, known before its run span (which is
        recorded when it ends), so that a store can list a running run by name."""
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

    def record_node(self, group: NodeGroup, row: NodeRow) -> None:
        for tracer in self.tracers:
            tracer.record_node(group, row)

    def begin_run(self, run_id: str, workflow: str) -> None:
        for tracer in self.tracers:
            tracer.begin_run(run_id, workflow)

    def flush(self) -> None:
        for tracer in self.tracers:
            tracer.flush()

    def close(self) -> None:
        for tracer in self.tracers:
            tracer.close()
