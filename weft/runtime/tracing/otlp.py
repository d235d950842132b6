"""Sending spans to an OpenTelemetry collector over OTLP/HTTP.

On when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set,
never otherwise: no telemetry leaves the machine unless the user asks. The
standard ``OTEL_*`` variables (headers, timeout, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``) apply, as read by the OpenTelemetry SDK.

weft's spans already have OpenTelemetry ids and a parent, so they are not
re-created through the OpenTelemetry tracer API (which would assign new
ids): each finished span becomes an SDK ``ReadableSpan`` with the same ids and
goes through a ``BatchSpanProcessor``, which exports on its own thread.
Attributes go through the same encoding as the trace store (truncated,
secrets masked) and the GenAI mapping of ``export.otel_attributes``; an
error that kept its traceback becomes an ``exception`` event
(``export.exception_event``).
``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http`` are
imported only when this exporter is made (``pip install 'weft[otlp]'``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, cast

from weft.protocols import WeftError
from weft.runtime.support.flush_timer import FlushTimer
from weft.runtime.tracing.export import (
    error_message,
    exception_event,
    otel_attributes,
    status_code,
)
from weft.runtime.tracing.otlp_watch import ExportWatch, warn
from weft.runtime.tracing.span_codec import SpanCodec, decode_document
from weft.runtime.tracing.spans import SpanRecord, Tracer

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
#: Seconds ``close`` waits for a collector that has not failed yet to take the last spans.
CLOSE_WAIT_S = 5.0


#: Spans the exporter's queue holds unless ``OTEL_BSP_MAX_QUEUE_SIZE`` says otherwise. The
#: SDK's 2,048 dropped 908 spans of a 5,000-item foreach: a run's spans arrive at once.
QUEUE_SIZE = 65_536


def _sizes() -> tuple[int, int]:
    """``(queue, batch)``: ``OTEL_BSP_MAX_QUEUE_SIZE`` (else ``QUEUE_SIZE``) and
    ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` (else 512) cut to the queue's size, which the
    SDK requires (a queue of 100 was a ``ValueError`` traceback out of ``weft run``)."""

    def positive(name: str, default: int) -> int:
        value = os.environ.get(name, "").strip()
        return int(value) if value.isdigit() and int(value) > 0 else default

    queue = positive("OTEL_BSP_MAX_QUEUE_SIZE", QUEUE_SIZE)
    return queue, min(positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512), queue)


def otlp_configured(environ: dict[str, str] | None = None) -> bool:
    """True when an OTLP endpoint is configured and the SDK is not disabled."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return any(env.get(name) for name in _ENDPOINT_VARS)


class OtlpTracer(Tracer):
    """A ``Tracer`` that exports to an OTLP collector in the background.

    ``exporter`` defaults to the OTLP/HTTP span exporter configured from the
    environment; pass another ``SpanExporter`` (e.g. an in-memory one) in
    tests. ``close`` exports what is left and stops the worker thread: it
    waits up to ``close_wait`` seconds, and not at all once the collector has
    failed (refused, timed out), then logs one warning saying how many spans
    were not sent and how to send them from the local store.
    """

    def __init__(
        self,
        exporter: Any = None,
        *,
        codec: SpanCodec | None = None,
        flush_interval: float = 0.2,
        schedule_delay_millis: float | None = None,
        close_wait: float | None = None,
    ) -> None:
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope

            if exporter is None:
                # chromadb brings the SDK (and the gRPC exporter) but not this one, so the
                # SDK alone being importable says nothing: check the exporter too
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                exporter = OTLPSpanExporter()
        except ImportError as exc:
            raise WeftError(
                "OTLP export needs the OpenTelemetry SDK and its OTLP/HTTP exporter: "
                "pip install 'weft[otlp]' (or unset OTEL_EXPORTER_OTLP_ENDPOINT) "
                f"({exc})"
            ) from None
        from weft import __version__

        attributes: dict[str, Any] = {"telemetry.sdk.name": "weft"}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            attributes["service.name"] = "weft"
        self._resource = Resource.create(attributes)
        self._scope = InstrumentationScope("weft", __version__)
        endpoint = next((os.environ[n] for n in _ENDPOINT_VARS if os.environ.get(n)), None)
        queue, batch = _sizes()
        self._watch = ExportWatch(exporter, getattr(exporter, "_endpoint", None) or endpoint)
        self._processor: Any = BatchSpanProcessor(
            cast(Any, self._watch),
            schedule_delay_millis=schedule_delay_millis,
            max_queue_size=queue,
            max_export_batch_size=batch,
        )
        self.close_wait = CLOSE_WAIT_S if close_wait is None else close_wait
        self._handed = 0
        self._runs: set[str] = set()
        self.codec = codec or SpanCodec()
        self.flush_interval = flush_interval
        self._buffer: list[SpanRecord] = []
        self._timer = FlushTimer(self.flush_interval, self.flush)
        self._closed = False

    def record(self, span: SpanRecord) -> None:
        self._buffer.append(span)
        self._timer.arm()

    def flush(self) -> None:
        """Hand buffered spans to the batch processor (it exports them on its thread)."""
        self._timer.cancel()
        if not self._buffer or self._closed:
            return
        spans, self._buffer = self._buffer, []
        batch = self.codec.encode_batch(spans)
        for run_id, _trace, _count, text in batch.documents():
            for span in decode_document(run_id, text):
                readable = self._readable(span)
                if readable is not None:
                    self._processor.on_end(readable)
                    self._handed += 1
                    self._runs.add(run_id)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush and wait until the collector has everything (or the timeout passes)."""
        self.flush()
        return bool(self._processor.force_flush(timeout_millis))

    def close(self) -> None:
        """Send what is left, waiting only for a collector that answers, and report losses."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        watch = self._watch
        watch.closing = True
        done = threading.Event()

        def shut() -> None:
            try:
                self._processor.shutdown()
            finally:
                done.set()

        threading.Thread(target=shut, name="weft-otlp-close", daemon=True).start()
        deadline = time.monotonic() + self.close_wait
        while not done.wait(0.02):
            if watch.trouble.is_set() or time.monotonic() > deadline:
                if watch.reason is None:
                    watch.reason = f"no answer within {self.close_wait:g} s"
                watch.abort()  # the exporter's retry gives up; what is left is dropped
                done.wait(0.5)
                break
        unsent = max(0, self._handed - watch.sent - watch.failed)
        message = watch.report(unsent, self._runs)
        if message is not None:
            warn(message)

    def _readable(self, span: SpanRecord) -> Any:
        from opentelemetry.attributes import BoundedAttributes
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        try:
            trace_id = int(span.trace_id, 16)
            context = SpanContext(trace_id, int(span.span_id, 16), False, TraceFlags(1))
            parent = (
                SpanContext(trace_id, int(span.parent_id, 16), False, TraceFlags(1))
                if span.parent_id
                else None
            )
        except (TypeError, ValueError):
            return None
        code = status_code(span)
        status = (
            Status(StatusCode.ERROR, error_message(span))
            if code == 2
            else Status(StatusCode.OK if code == 1 else StatusCode.UNSET)
        )
        end_time = round(span.end * 1e9)
        exception = exception_event(span)
        events = [Event("exception", exception, end_time)] if exception is not None else []
        return ReadableSpan(
            name=span.name,
            context=context,
            parent=parent,
            resource=self._resource,
            # BoundedAttributes, not a dict: SDKs before 1.2x count dropped attributes on it.
            attributes=BoundedAttributes(attributes=otel_attributes(span), immutable=True),
            kind=SpanKind.INTERNAL,
            status=status,
            start_time=round(span.start * 1e9),
            end_time=end_time,
            events=events,
            instrumentation_scope=self._scope,
        )
