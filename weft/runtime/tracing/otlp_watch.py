"""Knowing when spans did not reach the OTLP collector, and saying so once.

The OpenTelemetry SDK's exporter, on a collector that is down or slow, logs a
line per retry (urllib3's words: ``HTTPConnectionPool(...) Max retries
exceeded ... Connection refused``) and a last one that names neither the
collector nor the run, and flushing at the end blocked the process for the
exporter's whole retry budget (10 s by default) after the run had finished.
``ExportWatch`` wraps the exporter to count what was sent and what was not,
keeps the SDK's own lines for its report instead of printing them, and lets
``OtlpTracer.close`` give up at once on a collector that already failed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

#: The loggers the OTLP/HTTP exporter reports failures on.
_SDK_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.sdk._shared_internal",  # the batch processor: "Queue full, dropping Span."
)
_log = logging.getLogger("weft.tracing")


class ExportWatch(logging.Filter):
    """A span exporter around ``inner`` that counts what it sent and what it could not.

    Also a logging filter on the SDK's exporter loggers: their warnings and
    errors are kept (the last one is the reason in the report), not printed.
    """

    def __init__(self, inner: Any, endpoint: str | None) -> None:
        super().__init__()
        self.inner = inner
        self.endpoint = endpoint or getattr(inner, "_endpoint", None) or "the OTLP endpoint"
        self.sent = 0
        self.failed = 0
        self.failed_runs: set[str] = set()
        self.reason: str | None = None
        self.queue_full = False
        #: Set by the tracer when it closes: failures then go into the one closing report.
        self.closing = False
        self._warned = False
        #: Set when the collector has failed once: closing does not wait for it any more.
        self.trouble = threading.Event()
        self._lock = threading.Lock()
        for name in _SDK_LOGGERS:
            logging.getLogger(name).addFilter(self)

    # -- logging.Filter: keep the SDK's complaints for the report
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        message = record.getMessage()
        if message.startswith("Queue full"):
            self.queue_full = True  # spans dropped here; the collector may be fine
            return False
        if "hutdown" not in message:  # "Shutdown in progress": our own abort, no news
            if self.reason is None or message.startswith("Transient error"):
                self.reason = _short_reason(message)
            self.trouble.set()
        return False

    # -- SpanExporter
    def export(self, spans: Sequence[Any]) -> Any:
        result = self.inner.export(spans)
        ok = getattr(result, "name", "") == "SUCCESS"
        with self._lock:
            if ok:
                self.sent += len(spans)
            else:
                self.failed += len(spans)
                self.trouble.set()
                first = not self._warned and not self.closing
                self._warned = True
                for span in spans:
                    run_id = (span.attributes or {}).get("weft.run_id")
                    if isinstance(run_id, str):
                        self.failed_runs.add(run_id)
        if not ok and first:
            # A long-lived process (an agent host, a long run) hears of it now, not at exit.
            reason = f" ({self.reason})" if self.reason else ""
            warn(
                f"OTLP export to {self.endpoint} is failing{reason}; spans stay in the "
                "local trace store, and what was not sent is counted when it closes"
            )
        return result

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        for name in _SDK_LOGGERS:
            logging.getLogger(name).removeFilter(self)
        self.inner.shutdown()

    def abort(self) -> None:
        """Stop the exporter's retries now (its retry sleep wakes up and gives up)."""
        client = getattr(self.inner, "_client", None)
        event = getattr(client, "_shutdown_event", None)
        if isinstance(event, threading.Event):
            event.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))

    def report(self, unsent: int = 0, handed_runs: set[str] | None = None) -> str | None:
        """One line saying what did not reach the collector, or None if everything did.

        ``unsent``: spans handed over but neither sent nor failed (dropped at
        close); their runs are among ``handed_runs``.
        """
        lost = self.failed + unsent
        if not lost:
            return None
        runs = sorted(self.failed_runs | (handed_runs or set() if unsent else set()))
        where = f"run {runs[0]}" if len(runs) == 1 else "these runs"
        export = runs[0] if len(runs) == 1 else "RUN"
        reasons = [self.reason] if self.reason else []
        if self.queue_full:
            reasons.append("the export queue was full: raise OTEL_BSP_MAX_QUEUE_SIZE")
        reason = f" ({'; '.join(reasons)})" if reasons else ""
        return (
            f"OTLP export to {self.endpoint} failed: {lost} span(s) not sent{reason}. "
            f"The local trace store has {where}: send it later with "
            f"`weft trace export {export} --format otlp-json`"
        )


def _short_reason(message: str) -> str:
    """The cause in an SDK retry line: ``Connection refused``, ``Read timed out``..."""
    for marker in ("connection refused", "read timed out", "timed out", "not known"):
        if marker in message.lower():
            return marker
    code = re.search(r"code: (\d+), reason: (.*)$", message)
    if code is not None:  # refused for good: "Failed to export spans batch code: 400, ..."
        return f"HTTP {code.group(1)}: {code.group(2)[:200]}"
    if message.startswith("Failed to export"):
        return "no answer before the exporter's timeout"
    text = message.removeprefix("Transient error ").split(" encountered while", 1)[0]
    return text[:200]


def warn(message: str) -> None:
    """Say it on the ``weft.tracing`` logger (shown on stderr even without logging set up)."""
    _log.warning(message)
