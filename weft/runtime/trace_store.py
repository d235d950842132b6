"""The local trace store: every span of every run, in SQLite, written in batches.

``record`` only appends the span to a buffer; the buffer is encoded
(truncated, redacted: ``span_codec``) and committed a short while later in one
transaction, or at once by ``flush`` (the executor flushes when a run ends).
Spans are stored as one JSON array per run and flush, not one row per span:
reads are always "every span of a run", and a row per span costs more to
insert than a no-op node costs to run. The ``spans`` view unpacks them for
ad-hoc SQL (``SELECT name, duration FROM spans WHERE run_id = ...``).

Like the journal, SQLite is used synchronously on the event loop: a batch
commit in WAL mode is far cheaper than a hop to a thread. Several processes
(a ``weft run`` and remote agent hosts) may write the same file; a run's
spans are gathered by run id whoever wrote them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from weft.protocols import WeftError
from weft.runtime.flush_timer import FlushTimer
from weft.runtime.span_codec import (
    DEFAULT_MAX_CHARS,
    EncodedBatch,
    NodeRows,
    SpanCodec,
    decode_document,
)
from weft.runtime.tracing import NodeGroup, NodeRow, SpanRecord, Tracer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trace_runs (
    run_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    workflow TEXT,
    state TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    span_count INTEGER NOT NULL DEFAULT 0,
    usage TEXT,
    graph_hash TEXT
);
CREATE INDEX IF NOT EXISTS trace_runs_by_start ON trace_runs (started_at);
CREATE TABLE IF NOT EXISTS span_batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    written_at REAL NOT NULL,
    span_count INTEGER NOT NULL,
    spans TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS span_batches_by_run ON span_batches (run_id, seq);
CREATE TABLE IF NOT EXISTS graphs (
    graph_hash TEXT PRIMARY KEY,
    outline TEXT NOT NULL
);
CREATE VIEW IF NOT EXISTS spans AS
SELECT b.run_id AS run_id,
       b.trace_id AS trace_id,
       json_extract(s.value, '$[0]') AS span_id,
       json_extract(s.value, '$[1]') AS parent_id,
       json_extract(s.value, '$[2]') AS name,
       json_extract(s.value, '$[3]') AS kind,
       json_extract(s.value, '$[4]') / 1e6 AS start,
       json_extract(s.value, '$[5]') / 1e6 AS end,
       (json_extract(s.value, '$[5]') - json_extract(s.value, '$[4]')) / 1e6 AS duration,
       json_extract(s.value, '$[6]') AS status,
       json_extract(s.value, '$[7]') AS node,
       json_extract(s.value, '$[8]') AS agent
FROM span_batches AS b, json_each(b.spans, '$.spans') AS s
UNION ALL
SELECT b.run_id AS run_id,
       b.trace_id AS trace_id,
       json_extract(r.value, '$[0]') AS span_id,
       json_extract(g.value, '$[0]') AS parent_id,
       CASE WHEN rtrim(json_extract(r.value, '$[1]'), '0123456789') LIKE '%#'
            THEN rtrim(rtrim(json_extract(r.value, '$[1]'), '0123456789'), '#')
            ELSE json_extract(r.value, '$[1]') END AS name,
       'node' AS kind,
       json_extract(r.value, '$[2]') AS start,
       json_extract(r.value, '$[3]') AS end,
       json_extract(r.value, '$[3]') - json_extract(r.value, '$[2]') AS duration,
       json_extract(r.value, '$[4]') AS status,
       json_extract(r.value, '$[1]') AS node,
       NULL AS agent
FROM span_batches AS b, json_each(b.spans, '$.nodes') AS g, json_each(g.value, '$[1]') AS r;
"""
_SCHEMA_VERSION = 2
#: Write-ahead log bytes after which a checkpoint is made even while runs keep writing.
CHECKPOINT_BYTES = 64 * 2**20
#: Seconds without a write after which the log is checkpointed.
IDLE_CHECKPOINT_S = 1.0

_UPSERT_RUN = """
INSERT INTO trace_runs (run_id, trace_id, workflow, state, started_at, finished_at,
                        span_count, usage, graph_hash)
VALUES (:run_id, :trace_id, :workflow, :state, :started_at, :finished_at,
        :span_count, :usage, :graph_hash)
ON CONFLICT (run_id) DO UPDATE SET
    span_count = span_count + excluded.span_count,
    started_at = min(started_at, excluded.started_at),
    workflow = coalesce(excluded.workflow, workflow),
    state = CASE WHEN excluded.workflow IS NULL THEN state ELSE excluded.state END,
    finished_at = coalesce(excluded.finished_at, finished_at),
    usage = coalesce(excluded.usage, usage),
    graph_hash = coalesce(excluded.graph_hash, graph_hash)
"""


@dataclass(frozen=True)
class TraceRun:
    """One run as the trace store knows it (``state`` is ``running`` until its run span ends)."""

    run_id: str
    trace_id: str
    workflow: str | None
    state: str
    started_at: float
    finished_at: float | None
    span_count: int
    usage: dict[str, Any] = field(default_factory=dict)
    graph_hash: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


class TraceStore(Tracer):
    """SQLite trace store: a ``Tracer`` for writing and a small read API for the CLI and views.

    One instance per process and event loop. ``max_chars`` caps each
    attribute value's JSON size; ``flush_interval`` is how long a span may
    wait in memory; more than ``max_buffer`` waiting spans are written at once.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval: float = 0.05,
        max_buffer: int = 4096,
        max_chars: int = DEFAULT_MAX_CHARS,
        codec: SpanCodec | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=5000")
        # Batches are tens of kilobytes: bigger pages mean fewer overflow pages to
        # write and to checkpoint (half the cost per batch of the default 4 KiB).
        # Takes effect when the file is created; an existing store keeps its own.
        self._db.execute("PRAGMA page_size=16384")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints (copying the write-ahead log into the database, with an fsync)
        # are this store's own business: when it has been idle for a second, when
        # the log passes CHECKPOINT_BYTES, and on close; never in the middle of a
        # busy run, where SQLite would do one every few megabytes.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version < _SCHEMA_VERSION:
            # Version 2 added node rows to the ``spans`` view; the tables are unchanged.
            self._db.executescript("DROP VIEW IF EXISTS spans;" + _SCHEMA)
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self.codec = codec or SpanCodec(max_chars=max_chars)
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.batches_written = 0
        self._buffer: list[SpanRecord] = []
        self._rows: NodeRows = {}
        self._graphs_written: set[str] = set()
        self._timer = FlushTimer(self.flush_interval, self.flush)
        self._idle = FlushTimer(IDLE_CHECKPOINT_S, self._checkpoint_when_idle)
        self._logged_bytes = 0
        self._last_write = 0.0
        self._closed = False

    # -- writing (Tracer) ------------------------------------------------------------

    def record(self, span: SpanRecord) -> None:
        """Buffer a finished span; it is written within ``flush_interval`` seconds."""
        buffer = self._buffer
        buffer.append(span)
        if self._timer.armed:
            if len(buffer) >= self.max_buffer:
                self.flush()
        else:
            self._timer.arm()

    def record_node(self, group: NodeGroup, row: NodeRow) -> None:
        """Buffer a node's span row (``tracing.NODE_ROW``) as it is: it is encoded untouched."""
        rows = self._rows.get(group)
        if rows is None:
            # The first row of a group since the last flush: the buffer was empty or
            # held other groups, so the timer may not be running yet.
            rows = self._rows[group] = []
            if not self._timer.armed:
                self._timer.arm()
        rows.append(row)
        if len(rows) >= self.max_buffer:
            self.flush()

    def flush(self) -> None:
        """Encode and commit everything buffered: one row per run, one transaction."""
        self._timer.cancel()
        if not (self._buffer or self._rows) or self._closed:
            return
        spans, self._buffer = self._buffer, []
        rows, self._rows = self._rows, {}
        collecting = gc.isenabled()
        if collecting:
            # Encoding makes only acyclic garbage (lists, strings); a collection
            # triggered by it would scan the whole heap for nothing.
            gc.disable()
        try:
            batch = self.codec.encode_batch(spans, rows)
        finally:
            if collecting:
                gc.enable()
        now = time.time()
        documents = [
            (run_id, trace_id, now, count, text)
            for run_id, trace_id, count, text in batch.documents()
        ]
        runs = _run_rows(batch)
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO span_batches (run_id, trace_id, written_at, span_count, spans)"
                " VALUES (?, ?, ?, ?, ?)",
                documents,
            )
            db.executemany(_UPSERT_RUN, runs)
            graphs = [(h, g) for h, g in batch.graphs.items() if h not in self._graphs_written]
            if graphs:
                db.executemany("INSERT OR IGNORE INTO graphs VALUES (?, ?)", graphs)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._graphs_written.update(batch.graphs)
        self.batches_written += 1
        self._logged_bytes += sum(len(document[4]) for document in documents)
        self._last_write = time.monotonic()
        if self._logged_bytes >= CHECKPOINT_BYTES:
            self.checkpoint()
        elif _in_event_loop():  # outside one, nothing is idle: checkpoint on close
            self._idle.arm()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database now (readers are not blocked)."""
        self._idle.cancel()
        if self._logged_bytes and not self._closed:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._logged_bytes = 0

    def _checkpoint_when_idle(self) -> None:
        self._idle.cancel()
        if time.monotonic() - self._last_write < IDLE_CHECKPOINT_S:
            self._idle.arm()  # still busy: look again later
        else:
            self.checkpoint()

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self.checkpoint()
        self._closed = True
        self._db.close()

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------

    def runs(self, limit: int = 20) -> list[TraceRun]:
        """The most recent runs first."""
        self.flush()
        rows = self._db.execute(
            "SELECT run_id, trace_id, workflow, state, started_at, finished_at, span_count,"
            " usage, graph_hash FROM trace_runs ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_trace_run(row) for row in rows]

    def get_run(self, ref: str) -> TraceRun:
        """A run by id, unique id prefix, or ``last``; ``WeftError`` if none or ambiguous."""
        self.flush()
        columns = (
            "SELECT run_id, trace_id, workflow, state, started_at, finished_at, span_count,"
            " usage, graph_hash FROM trace_runs"
        )
        if ref == "last":
            rows = self._db.execute(columns + " ORDER BY started_at DESC LIMIT 1").fetchall()
            if not rows:
                raise WeftError(f"no runs in trace store {self.path} yet")
            return _trace_run(rows[0])
        row = self._db.execute(columns + " WHERE run_id = ?", (ref,)).fetchone()
        if row is not None:
            return _trace_run(row)
        pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._db.execute(
            columns + " WHERE run_id LIKE ? ESCAPE '\\' LIMIT 6", (pattern,)
        ).fetchall()
        if len(rows) == 1:
            return _trace_run(rows[0])
        if not rows:
            raise WeftError(f"no run '{ref}' in trace store {self.path}")
        ids = ", ".join(r[0] for r in rows[:5])
        raise WeftError(f"run id prefix '{ref}' is ambiguous: {ids}")

    def spans(self, run_id: str) -> list[SpanRecord]:
        """Every stored span of a run, ordered by start time (attributes are JSON-native)."""
        self.flush()
        rows = self._db.execute(
            "SELECT spans FROM span_batches WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        spans = [span for (text,) in rows for span in decode_document(run_id, text)]
        spans.sort(key=lambda s: (s.start, s.end))
        for span in spans:
            if span.kind == "run" and span.attributes.get("weft.graph", ...) is None:
                outline = self._outline(span.attributes.get("graph_hash"))
                if outline is not None:
                    span.attributes["weft.graph"] = outline
        return spans

    def _outline(self, graph_hash: Any) -> dict[str, Any] | None:
        """The workflow outline stored for ``graph_hash``, if any."""
        if not isinstance(graph_hash, str):
            return None
        row = self._db.execute(
            "SELECT outline FROM graphs WHERE graph_hash = ?", (graph_hash,)
        ).fetchone()
        return None if row is None else cast(dict[str, Any], json.loads(row[0]))

    def delete(self, run_ids: Iterable[str]) -> int:
        """Forget runs and their spans; returns how many runs were removed."""
        self.flush()
        ids = list(run_ids)
        removed = 0
        with self._db:
            self._db.execute("BEGIN")
            for run_id in ids:
                self._db.execute("DELETE FROM span_batches WHERE run_id = ?", (run_id,))
                removed += self._db.execute(
                    "DELETE FROM trace_runs WHERE run_id = ?", (run_id,)
                ).rowcount
            # Outlines no remaining run refers to go too.
            self._db.execute(
                "DELETE FROM graphs WHERE graph_hash NOT IN"
                " (SELECT graph_hash FROM trace_runs WHERE graph_hash IS NOT NULL)"
            )
        self._graphs_written.clear()
        return removed


def _run_rows(batch: EncodedBatch) -> list[dict[str, Any]]:
    """``trace_runs`` upserts for a batch: span counts, and a run's outcome from its run span."""
    rows: dict[str, dict[str, Any]] = {}
    for key, count in batch.counts.items():
        run_id, trace_id = key
        started = batch.starts[key]
        row = rows.get(run_id)
        if row is None:
            rows[run_id] = {
                "run_id": run_id,
                "trace_id": trace_id,
                "workflow": None,
                "state": "running",
                "started_at": started,
                "finished_at": None,
                "span_count": count,
                "usage": None,
                "graph_hash": None,
            }
        else:
            row["span_count"] += count
            row["started_at"] = min(row["started_at"], started)
    for span in batch.run_spans:
        usage = span.attributes.get("usage")
        if usage is not None and not isinstance(usage, dict):
            usage = usage.model_dump() if hasattr(usage, "model_dump") else None
        rows[span.run_id or span.trace_id].update(
            workflow=span.name,
            state=span.status,
            finished_at=span.end,
            usage=json.dumps(usage or {}),
            graph_hash=span.attributes.get("graph_hash"),
        )
    return list(rows.values())


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _trace_run(row: tuple[Any, ...]) -> TraceRun:
    run_id, trace_id, workflow, state, started, finished, count, usage, graph_hash = row
    return TraceRun(
        run_id=run_id,
        trace_id=trace_id,
        workflow=workflow,
        state=state,
        started_at=started,
        finished_at=finished,
        span_count=count,
        usage=json.loads(usage) if usage else {},
        graph_hash=graph_hash,
    )


def default_trace_path() -> Path:
    """``$WEFT_HOME/traces.db``, or ``./.weft/traces.db``."""
    from weft.runtime.runner import weft_home

    return weft_home() / "traces.db"


def open_default_tracer(path: str | Path | None = None) -> Tracer:
    """The tracer the CLI uses: the local store, plus OTLP when an endpoint is configured.

    OTLP is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set; nothing leaves the machine otherwise.
    """
    from weft.runtime.otlp import otlp_configured

    store = TraceStore(path or default_trace_path())
    if not otlp_configured():
        return store
    from weft.runtime.otlp import OtlpTracer
    from weft.runtime.tracing import FanOutTracer

    return FanOutTracer(store, OtlpTracer())
