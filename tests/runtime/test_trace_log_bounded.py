"""The trace store's write-ahead log stays near its checkpoint size when runs never pause.

Each committed batch logs whole 16 KiB pages (the run's row, the indexes), about
fifty times the bytes of a small run's spans. A service running workflows back
to back is never idle, so only the size rule checkpoints: when it counted the
spans' bytes, the log grew by ~100 KB a run (940 MB after 10,000 runs of a
four-node workflow in bench/soak.py) and the store's size cap, which reads the
database file, never saw it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from weft import Workflow, tool
from weft.runtime import Executor, compile_workflow
from weft.runtime.tracing import _db as trace_db
from weft.runtime.tracing.store import TraceStore

CHECKPOINT = 256 * 1024
RUNS = 40


@tool
def soak_words(text: str) -> list[str]:
    return text.split()


@tool
async def soak_upper(word: str) -> str:
    return word.upper()


def workflow() -> Workflow:
    wf = Workflow("log-bounded")
    split = wf.node("split", soak_words, with_={"text": "${inputs.text}"})
    wf.node("upper", soak_upper, after=split, foreach="${split}", with_={"word": "${item}"})
    return wf


@pytest.mark.parametrize("writer", ["process", "inline"])
async def test_back_to_back_runs_keep_the_log_near_its_checkpoint_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: Literal["process", "inline"]
) -> None:
    monkeypatch.setattr(trace_db, "CHECKPOINT_BYTES", CHECKPOINT)
    monkeypatch.setattr(trace_db, "IDLE_CHECKPOINT_S", 3600.0)  # never idle, as in a service
    store = TraceStore(tmp_path / "traces.db", writer=writer)
    prepared = compile_workflow(workflow())
    wal = tmp_path / "traces.db-wal"
    try:
        for _ in range(RUNS):
            result = await Executor(tracer=store).run(prepared, {"text": "a b c d e f"})
            assert result.ok
            store.sync()  # every batch committed before the log is measured
        assert store.sync().batches >= RUNS
        # one checkpoint's worth plus the batch that crossed it (and slack for the page
        # size of a file SQLite made); without the rule, RUNS x ~100 KB
        assert wal.stat().st_size < 3 * CHECKPOINT
    finally:
        store.close()
