"""Space in weft's SQLite files: how much is used, and giving freed space back to the disk.

The journal and the trace store grow with every run. Deleting old runs frees
pages inside the file, but SQLite keeps a file at its largest size unless it
is vacuumed. Both stores create their files with ``auto_vacuum=INCREMENTAL``
(``AUTO_VACUUM``, set before the first table), so that a prune can hand the
freed pages back with ``PRAGMA incremental_vacuum``, which moves only the
pages it must, instead of ``VACUUM``, which rewrites the whole file. A file
made by an older weft (``auto_vacuum`` off) is converted by one ``VACUUM`` the
first time it is compacted; its schema is unchanged, so an older weft still
reads it. Both files are in WAL mode: the main file shrinks when the
write-ahead log is checkpointed, which ``compact`` does last (``TRUNCATE``,
so the ``-wal`` file shrinks too).

Sizes for a cap are measured cheaply: ``(page_count - freelist_count) *
page_size`` reads the database header, not the file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Set on a new file before its first table: only then can it take effect without a VACUUM.
AUTO_VACUUM = "PRAGMA auto_vacuum=INCREMENTAL"
#: What a store over its cap is pruned down to, as a share of the cap: pruning to just
#: under the cap would prune again after the next run.
CAP_TARGET = 0.9
_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL
#: Rounds of ``shrink_to_cap``: its per-run sizes are estimates, so it measures after each.
_ROUNDS = 4


@dataclass
class PruneReport:
    """What a prune removed (or, with ``dry_run``, would remove) and what it gave back."""

    #: The runs removed, oldest first.
    run_ids: list[str] = field(default_factory=list)
    #: Rows removed besides the runs' own: journal events or trace batches.
    rows: int = 0
    #: The file and its write-ahead log, in bytes, before and after.
    bytes_before: int = 0
    bytes_after: int = 0
    dry_run: bool = False
    #: False when another process held the file and it could not be compacted now: the
    #: freed pages are reused by new runs, and the next prune shrinks the file.
    compacted: bool = True

    @property
    def runs(self) -> int:
        return len(self.run_ids)

    @property
    def freed_bytes(self) -> int:
        return max(0, self.bytes_before - self.bytes_after)


def file_bytes(path: str | Path) -> int:
    """The size on disk of a SQLite file and its ``-wal`` file (0 for what is missing)."""
    total = 0
    for name in (str(path), f"{path}-wal"):
        with contextlib.suppress(OSError):
            total += os.stat(name).st_size
    return total


def used_bytes(db: sqlite3.Connection) -> int:
    """Bytes of the database in use (free pages not counted), from its header: cheap."""
    pages, free, size = db.execute(
        "SELECT * FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()"
    ).fetchone()
    return int((pages - free) * size)


def compact(db: sqlite3.Connection) -> bool:
    """Give the file's free pages back to the disk; False if another writer held it.

    Outside any transaction. A file without incremental auto-vacuum is
    rewritten once by ``VACUUM``, which also turns it on.
    """
    try:
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] == _INCREMENTAL:
            # Each step of this pragma frees one page, and ``execute`` steps a statement
            # without result columns once: ``executescript`` steps it to the end.
            db.executescript("PRAGMA incremental_vacuum;")
        else:
            db.execute(AUTO_VACUUM)
            db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return False
        raise
    return True


def shrink_to_cap(
    db: sqlite3.Connection,
    path: str | Path,
    cap: int,
    sizes: Callable[[], Iterable[tuple[str, int]]],
    delete: Callable[[list[str]], tuple[list[str], int]],
) -> PruneReport | None:
    """If the database uses more than ``cap`` bytes, delete runs oldest first until it uses
    at most ``CAP_TARGET`` of the cap; None when it is under the cap (one cheap check).

    ``sizes`` lists the runs that may go, oldest first, with an estimate of the
    bytes each takes; ``delete`` deletes some (those still allowed to go) and
    returns them with the number of other rows deleted. Estimates are only
    that, so the size is measured again after each round.
    """
    used = used_bytes(db)
    if used <= cap:
        return None
    report = PruneReport(bytes_before=file_bytes(path))
    target = int(cap * CAP_TARGET)
    for _ in range(_ROUNDS):
        if used <= target:
            break
        chosen = oldest_to_free(sizes(), used - target)
        if not chosen:
            break  # nothing finished left to delete: the running runs stay
        deleted, rows = delete(chosen)
        report.run_ids += deleted
        report.rows += rows
        report.compacted = compact(db)
        used = used_bytes(db)
    report.bytes_after = file_bytes(path)
    return report


def oldest_to_free(sizes: Iterable[tuple[str, int]], excess: int) -> list[str]:
    """The shortest prefix of ``sizes`` (run id, estimated bytes; oldest first) whose
    sizes add up to ``excess`` bytes, or all of them when they fall short."""
    chosen: list[str] = []
    freed = 0
    for run_id, size in sizes:
        if freed >= excess:
            break
        chosen.append(run_id)
        freed += size
    return chosen


def megabytes(count: int) -> str:
    return f"{count / 2**20:,.1f} MB"


#: Files whose cap has been reported in this process: the first prune is a warning, the
#: later ones are debug lines (a store at its cap prunes every few runs).
_reported: set[str] = set()


def note_cap_prune(
    logger: Any, what: str, path: str | Path, cap: int, report: PruneReport, setting: str
) -> None:
    """Log that ``what`` at ``path`` passed its cap and was pruned: once per file as a
    warning, then at debug level. ``logger`` is a stdlib or structlog logger."""
    kept = "" if report.compacted else "; the file shrinks at the next prune (it was busy)"
    runs = (
        "the oldest finished run" if report.runs == 1 else f"the {report.runs} oldest finished runs"
    )
    done = (
        f"deleted {runs}, {megabytes(report.freed_bytes)} freed{kept}"
        if report.runs
        else "no finished run left to delete"
    )
    text = (
        f"{what} {path} passed its cap of {megabytes(cap)}: {done}. "
        f"Set {setting} to change the cap (0: no cap)"
    )
    key = f"{what}:{Path(path).resolve()}"
    if key in _reported:
        logger.debug(text)
    else:
        _reported.add(key)
        logger.warning(text)
