"""One process at a time on an embedded memory folder.

Chroma's embedded ``PersistentClient`` is not safe for several processes on
one folder: each keeps its own copy of the vector index, so a second ``weft
ask`` on the same folder failed at random, with a bare
``chromadb.errors.InternalError: Error finding id`` or ``database is
locked``, and lost its answer. A ``chroma run`` server is the way to share a
memory between processes (``$WEFT_CHROMA_URL``).

``claim(folder)`` takes an exclusive ``flock`` on ``FOLDER/weft.lock`` for the
rest of the process (the lock goes when the process ends, however it ends),
and writes the holder's pid in the file for the error message. It is
re-entrant within a process: the experience memory and the router's outcome
memory open the same folder in one ``weft ask``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from weft.protocols import WeftError

LOCK_NAME = "weft.lock"

#: folder (resolved) -> the open lock file's descriptor, held until the process ends
_held: dict[str, int] = {}


class MemoryInUseError(WeftError):
    """Another process holds the embedded memory folder."""


def claim(
    folder: str | Path, *, wait: float = 0.0, on_wait: Callable[[str], None] | None = None
) -> None:
    """Hold ``folder`` for this process, waiting up to ``wait`` seconds for another holder.

    ``on_wait`` is told once, when the wait starts (a command should not hang silently).

    Raises ``MemoryInUseError`` naming the folder, the holder's pid and what to
    do. A no-op where ``fcntl`` is missing (Windows): nothing is checked there.
    """
    path = Path(folder).resolve()
    key = str(path)
    if key in _held:
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    if path.exists() and not path.is_dir():
        raise WeftError(f"experience memory {path} is a file, not a folder: pass another --memory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WeftError(
            f"cannot use {path} as the experience memory folder: {exc.strerror or exc}"
        ) from None
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(fd)
                os.close(fd)
                raise MemoryInUseError(in_use_message(path, holder)) from None
            if on_wait is not None:
                on_wait(f"waiting up to {wait:g}s for {_holder(fd)}, which holds {path}")
                on_wait = None
            time.sleep(0.1)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[key] = fd


def release(folder: str | Path) -> None:
    """Give ``folder`` back before the process ends (tests, long-lived processes)."""
    fd = _held.pop(str(Path(folder).resolve()), None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing the descriptor drops the flock


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode().strip()
        if text:
            return f"pid {int(text)}"
    return "another process"


def in_use_message(folder: Path, holder: str) -> str:
    """The error for a busy folder: which, who, and the two ways out."""
    return (
        f"experience memory {folder} is in use by {holder}: the embedded store serves one "
        "process at a time. Wait for it to finish, or share it between processes through a "
        f"Chroma server that serves this very folder: chroma run --path {folder} --port 8000, "
        "then WEFT_CHROMA_URL=http://127.0.0.1:8000 for every process"
    )
