"""Keeping a journal in bounds: which runs may go, deleting them, and the size cap.

Only *finished* runs are ever deleted: succeeded, failed, cancelled or
waiting for input, and not held by a live lease (``lease.py``: a failed run
that ``weft resume`` has just taken is not finished any more, though its
state still says so for an instant). A run in state ``running`` is never
deleted, whether its process is alive or died without ending it: it is
resumable, and only its owner knows whether it is still wanted.

``select`` picks runs for ``weft runs prune`` (older than a time, beyond
the newest N); ``shrink`` brings a journal over its cap back under
``sqlite_space.CAP_TARGET`` of it, oldest finished first. Both recheck, inside the
deleting transaction, that each run is still finished, so a resume that
takes a run meanwhile keeps it. The space is given back by
``sqlite_space.compact``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Iterator
from pathlib import Path

from weft.runtime.engine.lease import GRACE
from weft.runtime.support.sqlite_space import PruneReport, compact, file_bytes, shrink_to_cap

#: A run that may be deleted; the parameter is the current time.
_FINISHED = (
    "state != 'running' AND (lease_owner IS NULL"
    f" OR lease_heartbeat < ? - coalesce(lease_period, 0) * {GRACE})"
)
#: Run ids per statement (SQLite allows at least 999 parameters).
_CHUNK = 500


def select(db: sqlite3.Connection, *, finished_before: float | None, keep: int) -> list[str]:
    """Finished runs that finished before ``finished_before`` (any time, for None) and are
    not among the ``keep`` most recently started runs (of any state): oldest finished first."""
    rows = db.execute(
        f"SELECT run_id FROM runs WHERE {_FINISHED}"
        " AND (? IS NULL OR finished_at < ?)"
        " AND run_id NOT IN (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT ?)"
        " ORDER BY finished_at, run_id",
        (time.time(), finished_before, finished_before, keep),
    ).fetchall()
    return [run_id for (run_id,) in rows]


def count_events(db: sqlite3.Connection, run_ids: list[str]) -> int:
    """How many events ``run_ids`` have (what a dry run reports)."""
    total = 0
    for chunk in _chunks(run_ids):
        marks = ",".join("?" * len(chunk))
        total += db.execute(
            f"SELECT count(*) FROM events WHERE run_id IN ({marks})", chunk
        ).fetchone()[0]
    return total


def delete(db: sqlite3.Connection, run_ids: list[str]) -> tuple[list[str], int]:
    """Delete those of ``run_ids`` that are still finished, with their events, in one write
    transaction; the ids deleted and the number of events."""
    deleted: list[str] = []
    events = 0
    db.execute("BEGIN IMMEDIATE")
    try:
        now = time.time()
        for chunk in _chunks(run_ids):
            marks = ",".join("?" * len(chunk))
            still = [
                run_id
                for (run_id,) in db.execute(
                    f"SELECT run_id FROM runs WHERE run_id IN ({marks}) AND {_FINISHED}",
                    (*chunk, now),
                )
            ]
            if not still:
                continue
            marks = ",".join("?" * len(still))
            events += db.execute(f"DELETE FROM events WHERE run_id IN ({marks})", still).rowcount
            db.execute(f"DELETE FROM runs WHERE run_id IN ({marks})", still)
            deleted.extend(still)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return deleted, events


def prune(db: sqlite3.Connection, path: Path, run_ids: list[str], dry_run: bool) -> PruneReport:
    """Delete ``run_ids`` (unless ``dry_run``) and compact the file."""
    report = PruneReport(bytes_before=file_bytes(path), dry_run=dry_run)
    if dry_run:
        report.run_ids, report.rows = run_ids, count_events(db, run_ids)
    elif run_ids:
        report.run_ids, report.rows = delete(db, run_ids)
        report.compacted = compact(db)
    report.bytes_after = report.bytes_before if dry_run else file_bytes(path)
    return report


def shrink(
    db: sqlite3.Connection, path: Path, cap: int, spare: Collection[str] = ()
) -> PruneReport | None:
    """If the journal uses more than ``cap`` bytes, delete its oldest finished runs (never
    those in ``spare``) until it uses at most ``CAP_TARGET`` of the cap; None when under."""

    def sizes() -> list[tuple[str, int]]:
        return [(run_id, size) for run_id, size in _sizes(db) if run_id not in spare]

    return shrink_to_cap(db, path, cap, sizes, lambda run_ids: delete(db, run_ids))


def _sizes(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """Finished runs, oldest finished first, with an estimate of the bytes each takes
    (its values plus a row's overhead per event, index entries included)."""
    return db.execute(
        "SELECT r.run_id, 256 + length(r.inputs) + coalesce(length(r.outputs), 0)"
        " + coalesce((SELECT sum(coalesce(length(e.body), 0) + coalesce(length(e.key), 0)"
        " + coalesce(length(e.node), 0) + 64) FROM events AS e WHERE e.run_id = r.run_id), 0)"
        f" FROM runs AS r WHERE {_FINISHED} ORDER BY r.finished_at, r.run_id",
        (time.time(),),
    ).fetchall()


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
