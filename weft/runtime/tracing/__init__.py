"""Tracing: a span for every run, node, call and model request, and where they go.

``Tracer`` is the interface the engine records into; ``TraceStore`` keeps spans
in SQLite (checked and committed by a writer process of its own once a run is
large), ``OtlpTracer`` sends them to an OpenTelemetry collector; ``export``,
``analysis`` and ``html`` turn a stored run into files, critical paths and an
offline timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "FanOutTracer": "weft.runtime.tracing.spans",
    "MemoryTracer": "weft.runtime.tracing.spans",
    "NodeGroup": "weft.runtime.tracing.spans",
    "OtlpTracer": "weft.runtime.tracing.otlp",
    "SpanRecord": "weft.runtime.tracing.spans",
    "TraceStore": "weft.runtime.tracing.store",
    "Tracer": "weft.runtime.tracing.spans",
    "open_default_tracer": "weft.runtime.tracing.store",
}

__all__ = [
    "FanOutTracer",
    "MemoryTracer",
    "NodeGroup",
    "OtlpTracer",
    "SpanRecord",
    "TraceStore",
    "Tracer",
    "open_default_tracer",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.tracing.otlp import OtlpTracer
    from weft.runtime.tracing.spans import FanOutTracer, MemoryTracer, NodeGroup, SpanRecord, Tracer
    from weft.runtime.tracing.store import TraceStore, open_default_tracer
