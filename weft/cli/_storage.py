"""Opening the journal and the trace store, and writing output files, for the commands.

A path the user chose can be wrong in ways no code of weft can fix: a folder
that is a file, a disk that is read-only, a ``journal.db`` that holds
something else. Those are user errors, so they become one ``WeftError`` line
(exit status 2) that names the file and what it was for, never a traceback.
Errors of SQLite (``sqlite3.Error``) and of the file system (``OSError``) are
translated only around opening and writing, where they can only mean that.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from weft.protocols import WeftError


class StorageError(WeftError):
    """A file weft was told (or defaults) to use cannot be opened, read or written."""


@contextmanager
def storage_errors(what: str, path: str | Path, hint: str) -> Iterator[None]:
    """Turn file-system and SQLite errors inside the block into one ``StorageError``.

    ``what`` names the file's role ("the journal"), ``hint`` says how to use
    another one ("--journal FILE or WEFT_HOME").
    """
    try:
        yield
    except sqlite3.Error as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise StorageError(
                f"{what} {path} is not a weft database ({exc}); move it away, or use {hint}"
            ) from None
        raise StorageError(f"cannot use {what} {path}: {exc}; use {hint}") from None
    except OSError as exc:
        reason = _os_reason(exc, path)
        raise StorageError(f"cannot use {what} {path}: {reason}; use {hint}") from None


def _os_reason(exc: OSError, path: str | Path) -> str:
    """The cause in words, naming the path that is in the way (often a parent, not the file)."""
    for parent in Path(path).parents:  # nearest first
        if parent.exists():
            if not parent.is_dir():
                return f"'{parent}' is a file, not a folder"
            break
    reason = exc.strerror or type(exc).__name__
    return f"{reason}: '{exc.filename}'" if exc.filename is not None else reason


JOURNAL_HINT = "another with --journal FILE or WEFT_HOME"
TRACES_HINT = "another folder with WEFT_HOME"


def open_journal(path: str | None) -> Any:
    """The run journal at ``path``, else the default one (``$WEFT_HOME/journal.db``)."""
    from weft.runtime.engine.journal import Journal
    from weft.runtime.support.home import default_journal_path

    target = path or default_journal_path()
    with storage_errors("the journal", target, JOURNAL_HINT):
        return Journal(target)


def open_tracer() -> Any:
    """The local trace store (plus OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set)."""
    from weft.runtime.support.home import default_trace_path
    from weft.runtime.tracing.store import open_default_tracer

    with storage_errors("the trace store", default_trace_path(), TRACES_HINT):
        return open_default_tracer()


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
