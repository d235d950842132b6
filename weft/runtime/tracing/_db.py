"""The trace store's SQLite file: its schema, and committing encoded batches to it.

Two sides open the file: the trace store's process reads it (and deletes
runs), and the writer (``trace_writer``: a process of its own, or the store's
process when that cannot be started) commits batches. Both open it with
``connect``, so either may be the first to create it.

Checkpoints (copying the write-ahead log into the database, with an fsync)
are the writer's business: after ``IDLE_CHECKPOINT_S`` without a write, once
the log passes ``CHECKPOINT_BYTES``, and on close; never in the middle of a
busy run, where SQLite would do one every few megabytes.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from weft.protocols.sqlite_open import open_patiently
from weft.runtime.support.sqlite_space import AUTO_VACUUM
from weft.runtime.tracing.span_codec import EncodedBatch

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
    state = CASE WHEN excluded.finished_at IS NULL THEN state ELSE excluded.state END,
    finished_at = coalesce(excluded.finished_at, finished_at),
    usage = coalesce(excluded.usage, usage),
    graph_hash = coalesce(excluded.graph_hash, graph_hash)
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """The trace database at ``path``, created or migrated to the current schema,
    waiting out others who open it at the same moment (``open_patiently``)."""
    return open_patiently(lambda: _connect_once(path))


def _connect_once(path: str | Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        _refuse_foreign(db)
        # Batches are tens of kilobytes: bigger pages mean fewer overflow pages to
        # write and to checkpoint (half the cost per batch of the default 4 KiB).
        # Takes effect when the file is created; an existing store keeps its own.
        db.execute("PRAGMA page_size=16384")
        # Also only on a new file: lets a prune give space back cheaply (``sqlite_space``).
        db.execute(AUTO_VACUUM)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=0")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < _SCHEMA_VERSION:
            # Version 2 added node rows to the ``spans`` view; the tables are unchanged.
            db.executescript("DROP VIEW IF EXISTS spans;" + _SCHEMA)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


#: Tables of a trace store (``sqlite_sequence`` is SQLite's own, made for AUTOINCREMENT).
_OWN_TABLES = frozenset({"trace_runs", "span_batches", "graphs", "sqlite_sequence"})


def _refuse_foreign(db: sqlite3.Connection) -> None:
    """Raise unless the file is empty or already a trace store, before anything is written.

    ``--store .weft/journal.db`` is an easy slip: adding the trace tables to the
    run journal and setting its ``user_version`` to the trace store's made every
    later ``weft runs`` and ``weft resume`` refuse the journal as "newer than
    this weft reads". A file with tables of its own is left as it is.
    """
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables or "trace_runs" in tables:
        return
    if {"runs", "events"} <= tables:
        what = "a weft run journal (the trace store is traces.db beside it)"
    else:
        what = "another database"
    shown = ", ".join(sorted(tables - _OWN_TABLES)[:5])
    raise sqlite3.DatabaseError(f"it is {what}, not a trace store (it has tables {shown})")


class BatchCommitter:
    """Commits checked batches (``SpanCodec.check_rows`` done) to the trace database.

    Counts the write-ahead log it has grown so that its owner can checkpoint
    when idle, and checkpoints at once past ``checkpoint_bytes``.
    """

    def __init__(self, path: str | Path, *, checkpoint_bytes: int = CHECKPOINT_BYTES) -> None:
        self.path = Path(path)
        self._db = connect(path)
        self.checkpoint_bytes = checkpoint_bytes
        # ``logged_bytes`` counts the documents, but each commit also logs whole pages
        # (16 KiB each: the run's row, the indexes): ~50x the documents for small runs.
        # A service running back to back (never idle) grew the log by 100 KB a run
        # until the document count crossed ``checkpoint_bytes``: gigabytes. SQLite's
        # own checkpoint counts the pages really logged, so the log stays near this size.
        page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        self._db.execute(f"PRAGMA wal_autocheckpoint={max(1, checkpoint_bytes // page_size)}")
        self.logged_bytes = 0
        self.batches = 0
        self.checkpoints = 0

    def commit(self, batch: EncodedBatch) -> None:
        """One transaction: the batch's documents, its runs' upserts and new outlines."""
        now = time.time()
        documents = [
            (run_id, trace_id, now, count, text)
            for run_id, trace_id, count, text in batch.documents()
        ]
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO span_batches (run_id, trace_id, written_at, span_count, spans)"
                " VALUES (?, ?, ?, ?, ?)",
                documents,
            )
            db.executemany(_UPSERT_RUN, batch.runs)
            if batch.graphs:
                db.executemany("INSERT OR IGNORE INTO graphs VALUES (?, ?)", batch.graphs.items())
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self.batches += 1
        self.logged_bytes += sum(len(document[4]) for document in documents)
        if self.logged_bytes >= self.checkpoint_bytes:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database now (readers are not blocked)."""
        if self.logged_bytes:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self.checkpoints += 1
        self.logged_bytes = 0

    def close(self) -> None:
        self.checkpoint()
        self._db.close()
