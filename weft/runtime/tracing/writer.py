"""Committing trace batches off the run's event loop: a writer process of the store's own.

The trace store encodes what the run made (``SpanCodec.encode_batch``: the
part that needs the run's Python objects) and hands the batch over. What is
left per node, checking rows for secrets and size (``SpanCodec.check_rows``)
and committing them to SQLite, is about half of what tracing costs per node;
a writer process does it on another core while the run goes on.

The writer is ``python -m weft.runtime.tracing.writer``, started on the first
batch, fed frames (an 8-byte length, then a pickle) on its stdin, and
answering only ``sync`` requests on its stdout. It holds a copy of the
store's redactor (secrets are sent along when they change), commits each
batch in one transaction, keeps a batch that failed to commit for another try
(a database locked by another writer), and checkpoints when idle. When the
store's process exits, its stdin closes and it commits what it has and exits
too: a batch handed over is not lost if the run's process dies.

Where a process cannot be started, or dies, ``InlineWriter`` does the same
work in the store's process, as every version before this one did. Pickling
between two processes of one user on one machine is safe: nothing else can
write to the pipe.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sqlite3
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import weft
from weft.protocols import WeftError
from weft.runtime.support.flush_timer import FlushTimer
from weft.runtime.support.redaction import Redactor
from weft.runtime.tracing import _db as trace_db
from weft.runtime.tracing._db import BatchCommitter
from weft.runtime.tracing.span_codec import EncodedBatch, SpanCodec

#: How long ``sync`` waits for the writer process before giving up on it.
SYNC_TIMEOUT_S = 60.0
_HEADER = 8
#: Linux lets a pipe hold this much, so a burst of batches does not block the run.
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031


@dataclass(frozen=True)
class WriterStats:
    """What a writer has done: batches committed, checkpoints, and trouble."""

    batches: int
    checkpoints: int
    #: Batches checked but not committed yet (waiting for a locked database).
    pending: int = 0
    #: The last error, if any batch failed to be checked or committed.
    error: str | None = None


@dataclass(frozen=True)
class WriterSettings:
    """Where a writer commits, and when it checkpoints."""

    path: Path
    checkpoint_bytes: int
    idle_checkpoint_s: float

    @classmethod
    def current(cls, path: str | Path) -> WriterSettings:
        """Settings for ``path`` with ``trace_db``'s checkpoint thresholds as they are now."""
        return cls(Path(path), trace_db.CHECKPOINT_BYTES, trace_db.IDLE_CHECKPOINT_S)


class TraceWriter(Protocol):
    def write(self, batch: EncodedBatch) -> None:
        """Hand a batch over; it is checked and committed soon, perhaps elsewhere."""

    def sync(self) -> WriterStats:
        """Wait until everything handed over is committed (or has failed)."""

    def close(self) -> None:
        """Commit what is left, checkpoint, and stop."""


class WriterGone(WeftError):
    """The writer process died or stopped answering; the batch at hand was not taken."""


class _Committing:
    """Checks and commits batches, keeping those the database refused for another try."""

    def __init__(self, settings: WriterSettings, codec: SpanCodec) -> None:
        self.codec = codec
        self.committer = BatchCommitter(settings.path, checkpoint_bytes=settings.checkpoint_bytes)
        self.pending: list[EncodedBatch] = []
        self.error: str | None = None

    def take(self, batch: EncodedBatch) -> None:
        try:
            self.codec.check_rows(batch)
        except Exception as exc:  # a bug: say so, keep the writer going for later batches
            self.error = f"a trace batch could not be encoded: {type(exc).__name__}: {exc}"
            return
        self.pending.append(batch)
        self.drain()

    def drain(self) -> None:
        while self.pending:
            try:
                self.committer.commit(self.pending[0])
            except sqlite3.Error as exc:
                self.error = f"trace store {self.committer.path}: {exc}"
                return
            self.pending.pop(0)

    def stats(self) -> WriterStats:
        return WriterStats(
            batches=self.committer.batches,
            checkpoints=self.committer.checkpoints,
            pending=len(self.pending),
            error=self.error,
        )

    def close(self) -> None:
        self.drain()
        self.committer.close()


class InlineWriter:
    """Checks and commits in this process, on the caller's thread (the fallback)."""

    def __init__(self, settings: WriterSettings, codec: SpanCodec) -> None:
        self._committing = _Committing(settings, codec)
        self._idle = FlushTimer(settings.idle_checkpoint_s, self._checkpoint_when_idle)
        self._idle_s = settings.idle_checkpoint_s
        self._last_write = 0.0

    def write(self, batch: EncodedBatch) -> None:
        self._committing.take(batch)
        self._last_write = time.monotonic()
        if _in_event_loop():  # outside one, nothing is idle: checkpoint on close
            self._idle.arm()

    def sync(self) -> WriterStats:
        self._committing.drain()
        return self._committing.stats()

    def _checkpoint_when_idle(self) -> None:
        self._idle.cancel()
        if time.monotonic() - self._last_write < self._idle_s:
            self._idle.arm()  # still busy: look again later
        else:
            self._committing.drain()
            self._committing.committer.checkpoint()

    def close(self) -> None:
        self._idle.cancel()
        self._committing.close()


class ProcessWriter:
    """Feeds a writer process; ``write`` costs a pickle and a pipe write."""

    def __init__(self, settings: WriterSettings, codec: SpanCodec) -> None:
        self.codec = codec
        # The same weft as this process's, wherever it was imported from.
        package_root = str(Path(weft.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        command = [
            sys.executable,
            "-m",
            "weft.runtime.tracing.writer",
            str(settings.path),
            str(codec.max_chars),
            str(settings.checkpoint_bytes),
            str(settings.idle_checkpoint_s),
        ]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._to_writer = self._process.stdin.fileno()
        self._from_writer = self._process.stdout.fileno()
        try:
            import fcntl

            fcntl.fcntl(self._to_writer, _F_SETPIPE_SZ, _PIPE_BYTES)
        except (ImportError, OSError):  # not Linux, or a lower limit: the default will do
            pass
        self._secrets_sent: frozenset[str] | None = None
        self.pid = self._process.pid
        # A store dropped without ``close``: ending the writer's input lets it finish.
        self._finalizer = weakref.finalize(self, _end_input, self._process)

    def write(self, batch: EncodedBatch) -> None:
        secrets = self.codec.redactor.secrets
        self._send(("batch", batch, None if secrets is self._secrets_sent else secrets))
        self._secrets_sent = secrets

    def sync(self) -> WriterStats:
        self._send(("sync",))
        reply = _read_frame(self._from_writer, SYNC_TIMEOUT_S)
        if not isinstance(reply, WriterStats):
            raise WriterGone(f"the trace writer (pid {self.pid}) did not answer")
        return reply

    def close(self) -> None:
        """End of input: the process commits what it has, checkpoints and exits."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._finalizer.detach()
        self._process.stdin.close()
        try:
            self._process.wait(timeout=SYNC_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()

    def _send(self, message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            _write_all(self._to_writer, len(data).to_bytes(_HEADER, "little"), data)
        except OSError as exc:  # BrokenPipeError above all
            raise WriterGone(f"the trace writer (pid {self.pid}) is gone: {exc}") from exc


def _end_input(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()


def _write_all(fd: int, header: bytes, data: bytes) -> None:
    sent = os.writev(fd, [header, data])
    total = len(header) + len(data)
    if sent < total:  # a full pipe: the rest, blocking until the writer reads
        rest = memoryview(header + data)[sent:]
        while rest:
            rest = rest[os.write(fd, rest) :]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, timeout: float | None = None) -> Any:
    """The next message on ``fd``, or ``None`` at end of input (or past ``timeout``)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    header = _read_exactly(fd, _HEADER, deadline)
    if header is None:
        return None
    data = _read_exactly(fd, int.from_bytes(header, "little"), deadline)
    return None if data is None else pickle.loads(data)


def _in_event_loop() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def serve(settings: WriterSettings, max_chars: int) -> None:
    """The writer process: batches from stdin until it closes, ``sync`` answered on stdout."""
    codec = SpanCodec(max_chars=max_chars, redactor=Redactor())
    committing = _Committing(settings, codec)
    idle_checkpoint_s = settings.idle_checkpoint_s
    incoming, outgoing = sys.stdin.fileno(), sys.stdout.fileno()
    while True:
        idle = committing.committer.logged_bytes or committing.pending
        ready = select.select([incoming], [], [], idle_checkpoint_s if idle else None)[0]
        if not ready:  # idle: a good moment to retry and to checkpoint
            committing.drain()
            committing.committer.checkpoint()
            continue
        message = _read_frame(incoming)
        if message is None:
            break
        if message[0] == "batch":
            _, batch, secrets = message
            if secrets is not None:
                codec.redactor = Redactor(secrets)
            committing.take(batch)
        elif message[0] == "sync":
            committing.drain()
            data = pickle.dumps(committing.stats())
            _write_all(outgoing, len(data).to_bytes(_HEADER, "little"), data)
    committing.close()


def main(argv: Sequence[str] | None = None) -> int:
    path, max_chars, checkpoint_bytes, idle = list(sys.argv[1:] if argv is None else argv)
    # Ctrl-C in a terminal, and SIGTERM from systemd or ``kill -- -PGID``, reach the whole
    # process group: the store's process decides when this one ends, by closing its
    # input, so nothing handed over is lost (a parent that dies closes it too).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(WriterSettings(Path(path), int(checkpoint_bytes), float(idle)), int(max_chars))
    return 0


if __name__ == "__main__":
    # Through the module's own name, so that what is pickled names it, not ``__main__``.
    from weft.runtime.tracing.writer import main as writer_main

    raise SystemExit(writer_main())
