"""Files weft cannot use: one ``StorageError`` line naming the file, never a traceback.

A path the user chose, or the default under ``$WEFT_HOME``, can be wrong in
ways no code of weft can fix: a folder that is a file, a disk that is
read-only, a ``journal.db`` that holds something else. Those are user errors,
so they become one ``WeftError`` that names the file, what it was for and how
to use another. Errors of SQLite (``sqlite3.Error``) and of the file system
(``OSError``) are translated only around opening and writing, where they can
only mean that. The CLI and the runner (runs made from Python record by
default too) open their files through this.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from weft.protocols import WeftError


class StorageError(WeftError):
    """A file weft was told (or defaults) to use cannot be opened, read or written."""


@contextmanager
def storage_errors(what: str, path: str | Path, hint: str) -> Iterator[None]:
    """Turn file-system and SQLite errors inside the block into one ``StorageError``.

    ``what`` names the file's role ("the journal"), ``hint`` says how to use
    another one ("another with --journal FILE or WEFT_HOME").
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
