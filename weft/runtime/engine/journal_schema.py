"""The journal's tables, and the migrations that bring an older journal file up to date.

The schema is versioned with SQLite's ``user_version``: version 0 is the
first one (``_SCHEMA``: runs and events), and each entry of ``MIGRATIONS``
adds to the one before. Opening a journal written by an older weft applies
what it lacks, once, in one transaction, and keeps every run readable; a
journal written by a newer weft is refused rather than misread.

A new journal file is made with ``auto_vacuum=INCREMENTAL``, so that
``weft runs prune`` and the size cap can give freed space back to the disk
cheaply (``weft.runtime.support.sqlite_space``). That is a property of the
file, not of the schema: an older file is converted by its first prune, and
``user_version`` does not change, so an older weft still reads the file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from weft.protocols import WeftError
from weft.protocols.sqlite_open import open_patiently
from weft.runtime.support.sqlite_space import AUTO_VACUUM

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

#: What each schema version adds to the one before (version 0 is ``_SCHEMA``);
#: ``PRAGMA user_version`` says how many of these a journal file has.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the lease of a running run (``lease.Lease``), so that it cannot be resumed
    # while it still runs elsewhere. Columns of ``runs``, not a table of their own:
    # starting and ending a run stay one statement each. Old runs get NULL: no holder.
    (
        "ALTER TABLE runs ADD COLUMN lease_owner TEXT",
        "ALTER TABLE runs ADD COLUMN lease_host TEXT",
        "ALTER TABLE runs ADD COLUMN lease_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN lease_scope TEXT",
        "ALTER TABLE runs ADD COLUMN lease_heartbeat REAL",
        "ALTER TABLE runs ADD COLUMN lease_period REAL",
    ),
)


def open_database(path: Path) -> sqlite3.Connection:
    """Connect to the journal at ``path`` (created if missing) in WAL mode, at the
    current schema, waiting out others who open it at the same moment
    (``open_patiently``). Raises ``WeftError`` for a journal from a newer weft."""
    return open_patiently(lambda: _open_once(path))


def _open_once(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None)
    try:
        db.execute(AUTO_VACUUM)  # takes effect only on a new file, before its first table
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        _refuse_foreign(db, path)
        db.executescript(_SCHEMA)
        _migrate(db, path)
    except BaseException:
        db.close()
        raise
    return db


def _refuse_foreign(db: sqlite3.Connection, path: Path) -> None:
    """Raise unless the file is empty or already a journal, before anything is written.

    ``--journal .weft/traces.db`` is an easy slip: the journal's tables were added to
    the trace store, and the error said the file was "newer than this weft reads"
    (the trace store's own schema version), which sent users to upgrade weft.
    """
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables or tables & {"runs", "events"}:
        return  # empty, or a journal (perhaps one another process is creating right now)
    if "trace_runs" in tables:
        what = "a weft trace store (the journal is journal.db beside it)"
    else:
        what = "another database"
    shown = ", ".join(sorted(tables - {"sqlite_sequence"})[:5])
    raise WeftError(
        f"journal {path}: it is {what}, not a run journal (it has tables {shown}); "
        "give another --journal"
    )


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring a journal file up to the current schema, once, whoever opens it first."""
    known = len(MIGRATIONS)
    if _schema_version(db) == known:
        return
    db.execute("BEGIN IMMEDIATE")  # two processes opening one old file migrate it once
    try:
        version = _schema_version(db)
        if version > known:
            raise WeftError(
                f"journal {path} has schema version {version}, newer than this weft "
                f"reads ({known}); upgrade weft or use another --journal"
            )
        for step in MIGRATIONS[version:]:
            for statement in step:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {known}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])
