"""Opening a SQLite store that others may be opening at the same moment.

Several threads or processes opening one new file at once (``run_sync`` in
four threads, two ``weft run`` started together) race to switch it to WAL and
create its tables. SQLite answers some of them "database is locked" at once,
without waiting on the busy timeout, although the file is usable as soon as
the first opener is done. So an open that fails that way is retried, with a
short backoff, for a bounded time: found by four threads each running
``run_sync`` on a fresh ``$WEFT_HOME`` (2 of 40 trials failed before).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How long an open keeps retrying while others hold the file's lock.
OPEN_PATIENCE_S = 10.0


def open_patiently(open_once: Callable[[], T], patience: float = OPEN_PATIENCE_S) -> T:
    """``open_once()``, retried while it fails with "database is locked", up to
    ``patience`` seconds; ``open_once`` must close what it opened when it fails."""
    deadline = time.monotonic() + patience
    pause = 0.005
    while True:
        try:
            return open_once()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
