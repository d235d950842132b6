"""Keeping the trace store in bounds: which runs' traces may go (``weft trace prune``, the cap).

A trace is *finished* once its run span is stored (state other than
``running``). ``select`` takes finished traces that finished before a time,
and also unfinished ones that nothing has been written to since that time:
the trace of a run that was killed and never resumed stays ``running``
forever, and would otherwise never go. The cap (``shrink``) deletes only
finished traces, oldest finished first. Deleting is ``TraceStore.delete``'s
(spans, run rows and outlines no run uses); the space goes back to the disk
through ``sqlite_space.compact``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from weft.runtime.support.sqlite_space import PruneReport, shrink_to_cap


def select(db: sqlite3.Connection, *, before: float | None, keep: int) -> list[str]:
    """Traces to prune, oldest first: finished before ``before`` (any time, for None), or
    unfinished and silent since ``before`` (only with a time); never one of the ``keep``
    most recently started."""
    rows = db.execute(
        "SELECT t.run_id FROM trace_runs AS t"
        " WHERE t.run_id NOT IN (SELECT run_id FROM trace_runs ORDER BY started_at DESC LIMIT ?)"
        " AND ((t.state != 'running' AND (? IS NULL OR t.finished_at < ?))"
        "  OR (t.state = 'running' AND t.started_at < ? AND coalesce((SELECT max(b.written_at)"
        "   FROM span_batches AS b WHERE b.run_id = t.run_id), 0) < ?))"
        " ORDER BY coalesce(t.finished_at, t.started_at), t.run_id",
        (keep, before, before, before, before),
    ).fetchall()
    return [run_id for (run_id,) in rows]


def count_batches(db: sqlite3.Connection, run_ids: list[str]) -> int:
    """How many stored batches of spans ``run_ids`` have (what a dry run reports)."""
    total = 0
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        total += db.execute(
            f"SELECT count(*) FROM span_batches WHERE run_id IN ({marks})", chunk
        ).fetchone()[0]
    return total


def finished_sizes(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """Finished traces, oldest finished first, with an estimate of the bytes each takes."""
    return db.execute(
        "SELECT t.run_id, 256 + coalesce((SELECT sum(length(b.spans) + 64)"
        " FROM span_batches AS b WHERE b.run_id = t.run_id), 0)"
        " FROM trace_runs AS t WHERE t.state != 'running' ORDER BY t.finished_at, t.run_id"
    ).fetchall()


def shrink(
    db: sqlite3.Connection,
    path: Path,
    cap: int,
    delete: Callable[[list[str]], tuple[list[str], int]],
) -> PruneReport | None:
    """Past ``cap`` bytes, delete the oldest finished traces until under
    ``sqlite_space.CAP_TARGET`` of it; None when under the cap."""
    return shrink_to_cap(db, path, cap, lambda: finished_sizes(db), delete)
