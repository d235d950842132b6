"""Opening the journal and the trace store, and writing output files, for the commands.

A file weft cannot use is a user error: one ``StorageError`` line (exit
status 2) naming the file and what it was for, never a traceback
(``weft.runtime.support.storage``). The journal and trace store are opened as
the runtime opens them for runs made from Python (``engine.recording``),
with hints that name the commands' options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weft.runtime.support.storage import storage_errors

JOURNAL_HINT = "another with --journal FILE or WEFT_HOME"
TRACES_HINT = "another folder with WEFT_HOME"


def open_journal(path: str | None) -> Any:
    """The run journal at ``path``, else the default one (``$WEFT_HOME/journal.db``)."""
    from weft.runtime.engine.recording import open_journal as open_run_journal

    return open_run_journal(path, hint=JOURNAL_HINT)


def open_tracer() -> Any:
    """The local trace store (plus OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set)."""
    from weft.runtime.engine.recording import open_tracer as open_run_tracer

    return open_run_tracer(hint=TRACES_HINT)


def open_trace_store(path: str | Path) -> Any:
    """The trace store at ``path``, for reading (the trace commands)."""
    from weft.runtime.tracing.store import TraceStore

    with storage_errors("the trace store", path, "another with --store FILE or WEFT_HOME"):
        return TraceStore(path)


def write_text(path: str | Path, text: str, what: str) -> Path:
    """Write ``text`` to ``path`` (creating its folder); ``what`` names it in errors."""
    target = Path(path)
    with storage_errors(what, target, "another path with -o FILE"):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return target
