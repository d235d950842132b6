"""The run journal: an append-only event log in SQLite.

Each node state change is one row, never a snapshot of the whole run, so the
cost of recording a step does not grow with the size of the state. A run that
died is rebuilt by reading back the outputs of the calls that finished
(``completed_calls``); the graph hash stored with the run stops a changed
workflow from being resumed by mistake.

Writes are batched: ``append`` only buffers, and the buffer is committed a
few milliseconds later in one transaction (or at once by ``flush``). The
database runs in WAL mode with ``synchronous=NORMAL``: a committed batch
survives the process being killed; at most the last flush window (2 ms by
default) of finished calls is run again after a crash. SQLite is used
synchronously on the event loop on purpose: a WAL commit without fsync costs
tens of microseconds, less than a hop to a thread.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weft.protocols import (
    ErrorInfo,
    EventKind,
    RunEvent,
    RunNotFoundError,
    RunState,
    Usage,
    WeftError,
)
from weft.runtime.support.flush_timer import FlushTimer
from weft.runtime.support.redaction import redactor
from weft.runtime.support.sqlite_text import starts_with

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    source TEXT,
    graph_hash TEXT NOT NULL,
    inputs TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    outputs TEXT
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    node TEXT,
    key TEXT,
    state TEXT,
    attempt INTEGER,
    body TEXT
);
CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, seq);
"""


_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


def _dumps(value: Any) -> str:
    """Compact JSON with secrets masked (``weft.runtime.support.redaction``): a journal is a file
    on disk like the trace store, so the same rule applies. A masked output is replayed
    masked on resume; the secret itself is never written down."""
    text = _ENCODER.encode(value)
    masker = redactor()
    if masker.needs_walk(text):
        text = _ENCODER.encode(masker.value(value))
    return text


def _usage_dict(usage: Usage) -> dict[str, Any]:
    """Only the non-zero parts: most calls use no tokens, and rows stay small."""
    return {k: v for k, v in usage.__dict__.items() if v}


def _body(
    output: Any, error: ErrorInfo | None, usage: Usage | None, data: dict[str, Any] | None
) -> str | None:
    body: dict[str, Any] = {}
    if output is not None:
        body["output"] = output
    if error is not None:
        body["error"] = error.model_dump()
    if usage is not None:
        spent = _usage_dict(usage)
        if spent:
            body["usage"] = spent
    if data:
        body["data"] = data
    return _dumps(body) if body else None


@dataclass(frozen=True)
class RunRecord:
    """One row of the runs table."""

    run_id: str
    workflow: str
    source: str | None
    graph_hash: str
    inputs: dict[str, Any]
    state: RunState
    started_at: float
    finished_at: float | None
    outputs: Any


class Journal:
    """SQLite run journal. One instance per process; not shared across event loops."""

    def __init__(self, path: str | Path, *, flush_interval: float = 0.002) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.flush_interval = flush_interval
        self._buffer: list[tuple[Any, ...]] = []
        self._timer = FlushTimer(self.flush_interval, self.flush)

    # -- writing ----------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        workflow: str,
        source: str | None,
        graph_hash: str,
        inputs: dict[str, Any],
    ) -> None:
        """Record a new run; raises ``WeftError`` if ``run_id`` is already in this journal."""
        self.flush()
        row = (run_id, workflow, source, graph_hash, _dumps(inputs), RunState.RUNNING, time.time())
        try:
            self._db.execute(
                "INSERT INTO runs (run_id, workflow, source, graph_hash, inputs, state, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        except sqlite3.IntegrityError:
            raise WeftError(
                f"run '{run_id}' already exists in journal {self.path}; choose another run id"
            ) from None

    def set_run_state(self, run_id: str, state: RunState, outputs: Any = None) -> None:
        self.flush()
        finished = None if state is RunState.RUNNING else time.time()
        self._db.execute(
            "UPDATE runs SET state = ?, finished_at = ?, outputs = ? WHERE run_id = ?",
            (state, finished, _dumps(outputs), run_id),
        )

    def append(self, event: RunEvent) -> None:
        """Buffer an event; it is committed within ``flush_interval`` seconds."""
        self.record(
            event.run_id,
            event.at,
            event.kind,
            event.node,
            event.key,
            event.state,
            event.attempt,
            event.output,
            event.error,
            event.usage,
            event.data,
        )

    def record(
        self,
        run_id: str,
        at: float,
        kind: str,
        node: str | None,
        key: str | None,
        state: str | None,
        attempt: int | None,
        output: Any = None,
        error: ErrorInfo | None = None,
        usage: Usage | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """``append`` without building a ``RunEvent``: the executor's hot path.

        Values are kept as they are and encoded at flush time, in one batch.
        """
        self._buffer.append(
            (run_id, at, kind, node, key, state, attempt, output, error, usage, data)
        )
        self._timer.arm()

    def flush(self) -> None:
        """Encode and commit everything buffered, in one transaction."""
        self._timer.cancel()
        if not self._buffer:
            return
        pending, self._buffer = self._buffer, []
        rows = [
            (run_id, at, kind, node, key, state, attempt, _body(output, error, usage, data))
            for run_id, at, kind, node, key, state, attempt, output, error, usage, data in pending
        ]
        # The connection is in autocommit mode, so the batch needs an explicit
        # transaction: one commit per batch, not one per row.
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO events (run_id, at, kind, node, key, state, attempt, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self.flush()
        self._db.close()

    # -- reading ----------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord:
        self.flush()
        row = self._db.execute(
            "SELECT run_id, workflow, source, graph_hash, inputs, state, started_at,"
            " finished_at, outputs FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            condition, params = starts_with("run_id", run_id)
            matches = self._db.execute(
                f"SELECT run_id FROM runs WHERE {condition} LIMIT 6", params
            ).fetchall()
            if len(matches) == 1:
                return self.get_run(matches[0][0])
            if matches:
                ids = ", ".join(m[0] for m in matches[:5])
                raise RunNotFoundError(f"run id prefix '{run_id}' is ambiguous: {ids}")
            raise RunNotFoundError(f"no run '{run_id}' in journal {self.path}")
        return _record(row)

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        self.flush()
        rows = self._db.execute(
            "SELECT run_id, workflow, source, graph_hash, inputs, state, started_at,"
            " finished_at, outputs FROM runs ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_record(r) for r in rows]

    def events(self, run_id: str) -> Iterator[RunEvent]:
        self.flush()
        cursor = self._db.execute(
            "SELECT at, kind, node, key, state, attempt, body FROM events"
            " WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        for at, kind, node, key, state, attempt, body in cursor:
            extra = json.loads(body) if body else {}
            yield RunEvent(
                run_id=run_id,
                kind=EventKind(kind),
                at=at,
                node=node,
                key=key,
                state=state,
                attempt=attempt,
                output=extra.get("output"),
                error=extra.get("error"),
                usage=extra.get("usage"),
                data=extra.get("data", {}),
            )

    def completed_calls(self, run_id: str) -> dict[str, Any]:
        """Outputs of every call that finished successfully, by execution key."""
        self.flush()
        done: dict[str, Any] = {}
        cursor = self._db.execute(
            "SELECT key, body FROM events WHERE run_id = ? AND kind = ? AND state = ? ORDER BY seq",
            (run_id, EventKind.NODE_FINISHED, "succeeded"),
        )
        for key, body in cursor:
            done[key] = json.loads(body).get("output") if body else None
        return done


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, workflow, source, graph_hash, inputs, state, started, finished, outputs = row
    return RunRecord(
        run_id=run_id,
        workflow=workflow,
        source=source,
        graph_hash=graph_hash,
        inputs=json.loads(inputs),
        state=RunState(state),
        started_at=started,
        finished_at=finished,
        outputs=json.loads(outputs) if outputs else None,
    )
