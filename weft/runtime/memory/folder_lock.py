"""One process at a time on an embedded memory folder.

Chroma's embedded ``PersistentClient`` is not safe for several processes on
one folder: each keeps its own copy of the vector index, so a second ``weft
ask`` on the same folder failed at random, with a bare
``chromadb.errors.InternalError: Error finding id`` or ``database is
locked``, and lost its answer. A ``chroma run`` server is the way to share a
memory between processes (``$WEFT_CHROMA_URL``).

``claim(folder)`` takes an exclusive ``flock`` on ``FOLDER/weft.lock`` and
writes the holder's pid in the file for the error message. The lock goes when
the process ends, however it ends, or when every claim of the process was
given back with ``release(folder)`` (``ExperienceMemory.close()`` does): claims
are counted within a process, because several parts of it may hold the same
folder (``weft ask`` holds it for the whole ask, the experience memory it
opens holds it again), and the first to let go must not free it under the
others.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from weft.protocols import WeftError

LOCK_NAME = "weft.lock"

#: folder (resolved) -> [the open lock file's descriptor, how many claims hold it]
_held: dict[str, list[int]] = {}


class MemoryInUseError(WeftError):
    """Another process holds the embedded memory folder."""


def claim(
    folder: str | Path, *, wait: float = 0.0, on_wait: Callable[[str], None] | None = None
) -> None:
    """Hold ``folder`` for this process, waiting up to ``wait`` seconds for another holder.

    ``on_wait`` is told once, when the wait starts (a command should not hang silently).
    A folder this process holds already is claimed once more at once: give each
    claim back with ``release``.

    Raises ``MemoryInUseError`` naming the folder, the holder's pid and what to
    do. A no-op where ``fcntl`` is missing (Windows): nothing is checked there.
    """
    path = Path(folder).resolve()
    key = str(path)
    if key in _held:
        _held[key][1] += 1
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
    _held[key] = [fd, 1]


def release(folder: str | Path) -> None:
    """Give back one claim of ``folder``; the last one frees it for other processes.

    A folder this process does not hold is ignored (a second ``close()``).
    """
    key = str(Path(folder).resolve())
    hold = _held.get(key)
    if hold is None:
        return
    hold[1] -= 1
    if hold[1] > 0:
        return
    del _held[key]
    with contextlib.suppress(OSError):
        os.close(hold[0])  # closing the descriptor drops the flock


def holds(folder: str | Path) -> bool:
    """Whether this process holds ``folder`` now (any number of claims)."""
    return str(Path(folder).resolve()) in _held


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
