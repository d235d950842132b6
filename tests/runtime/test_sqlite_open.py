"""Opening a store others are opening at the same moment waits instead of failing.

Found when four threads each called ``run_sync`` on a fresh ``$WEFT_HOME``:
now and then one got "database is locked" from the journal's first open
(2 of 40 trials), and its half-open connection stayed open.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from weft.protocols.sqlite_open import open_patiently
from weft.runtime.engine.journal_schema import open_database
from weft.runtime.tracing._db import connect


def test_a_locked_open_is_tried_again_until_it_works() -> None:
    tries: list[int] = []

    def opener() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "opened"

    assert open_patiently(opener) == "opened"
    assert len(tries) == 3


def test_other_errors_and_a_lock_past_the_patience_are_raised() -> None:
    def broken() -> None:
        raise sqlite3.OperationalError("no such table: runs")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        open_patiently(broken)

    def always_locked() -> None:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        open_patiently(always_locked, patience=0.05)


@pytest.mark.parametrize("opener", [open_database, connect], ids=["journal", "traces"])
def test_many_threads_open_one_new_store_at_once(tmp_path: Path, opener: object) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def open_it(path: Path) -> None:
        start.wait()
        try:
            opener(path).close()  # type: ignore[operator]
        except BaseException as exc:  # reported below
            errors.append(exc)

    for round_ in range(30):
        path = tmp_path / f"store-{round_}.db"
        threads = [threading.Thread(target=open_it, args=(path,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
