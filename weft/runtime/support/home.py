"""Where weft keeps its state on disk: one place, so every room agrees on it."""

from __future__ import annotations

import os
from pathlib import Path


def weft_home() -> Path:
    """Where weft keeps its journal and traces: ``$WEFT_HOME`` or ``./.weft``."""
    return Path(os.environ.get("WEFT_HOME") or ".weft")


def default_journal_path() -> Path:
    """The run journal that ``weft run``, ``weft resume`` and ``weft runs`` share."""
    return weft_home() / "journal.db"


def default_trace_path() -> Path:
    """The trace store that every traced run writes to unless told otherwise."""
    return weft_home() / "traces.db"
