"""What the tests of served calls' traces read back: the trace store under ``$WEFT_HOME``,
through ``weft trace ls --json`` as a user runs it, and its spans through the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore

ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    return Path(os.environ["WEFT_HOME"])


def trace_ls() -> list[dict[str, Any]]:
    """``weft trace ls --json`` (the newest 50 runs), run as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "weft", "trace", "ls", "--json", "-n", "50"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    runs: list[dict[str, Any]] = json.loads(done.stdout)
    return runs


def spans_of(run_id: str) -> list[SpanRecord]:
    with TraceStore(home() / "traces.db") as store:
        return store.spans(run_id)
