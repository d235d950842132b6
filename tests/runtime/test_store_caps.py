"""Size caps: a journal or trace store past its cap deletes its oldest finished runs, and shrinks.

The caps are tiny here (a few hundred KB) so that a handful of runs with big
outputs cross them. Sizes are what SQLite's header says is in use
(``Journal.size``), and the files on disk.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from weft import Workflow, run_sync, tool
from weft.protocols import RunNotFoundError, RunState, WeftError
from weft.runtime import Journal, run_workflow
from weft.runtime.engine import journal_schema
from weft.runtime.engine.recording import open_journal, store_cap
from weft.runtime.support.home import default_journal_path
from weft.runtime.tracing.store import TraceStore

KB = 1024


@tool
def blob(size: int) -> str:
    return "x" * size


def big_output(name: str = "big") -> Workflow:
    workflow = Workflow(name)
    workflow.input("size", default=40 * KB)
    workflow.node("make", blob, with_={"size": "${inputs.size}"})
    return workflow


def test_a_journal_past_its_cap_deletes_its_oldest_finished_runs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WEFT_JOURNAL_MAX_MB", str(300 / 1024))  # 300 KB
    caplog.set_level(logging.DEBUG, logger="weft.runtime.engine.journal")
    run_ids = [run_sync(big_output(), tracer=False).run_id for _ in range(10)]
    journal = open_journal()
    try:
        assert journal.size() <= 300 * KB
        assert os.path.getsize(default_journal_path()) <= 300 * KB
        kept = [r.run_id for r in journal.list_runs(limit=100)]
        with pytest.raises(RunNotFoundError):
            journal.get_run(run_ids[0])
    finally:
        journal.close()
    assert kept == list(reversed(run_ids[-len(kept) :]))  # the newest, none skipped
    assert 2 <= len(kept) < 10
    warnings = [r for r in caplog.records if "passed its cap" in r.getMessage()]
    assert [r.levelno for r in warnings][:1] == [logging.WARNING]
    assert all(r.levelno == logging.DEBUG for r in warnings[1:])  # logged once
    assert "WEFT_JOURNAL_MAX_MB" in warnings[0].getMessage()


def test_a_journal_without_a_cap_keeps_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEFT_JOURNAL_MAX_MB", "0")
    for _ in range(10):
        run_sync(big_output(), tracer=False)
    journal = open_journal()
    try:
        assert journal.max_bytes is None
        assert len(journal.list_runs(limit=100)) == 10
        assert journal.size() > 300 * KB
    finally:
        journal.close()


async def test_the_cap_never_deletes_a_run_that_is_still_running(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with closing(Journal(path)) as keeper:
        keeper.start_run("still-running", "wf", None, "h", {"pad": "y" * 200 * KB})
    with closing(Journal(path, max_bytes=100 * KB)) as journal:
        result = await run_workflow(big_output(), journal=journal, tracer=False)
        assert journal.get_run("still-running").state is RunState.RUNNING
        assert journal.get_run(result.run_id).run_id == result.run_id  # the run that ended


def test_caps_are_read_in_mb_with_0_for_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEFT_TEST_CAP", raising=False)
    assert store_cap("WEFT_TEST_CAP") == 1024 * 2**20
    monkeypatch.setenv("WEFT_TEST_CAP", "0.5")
    assert store_cap("WEFT_TEST_CAP") == 512 * KB
    monkeypatch.setenv("WEFT_TEST_CAP", "0")
    assert store_cap("WEFT_TEST_CAP") is None
    for bad in ("big", "-1", "nan"):
        monkeypatch.setenv("WEFT_TEST_CAP", bad)
        with pytest.raises(WeftError, match=r"WEFT_TEST_CAP=.*expected a size in MB"):
            store_cap("WEFT_TEST_CAP")


def test_a_bad_cap_stops_a_run_before_anything_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEFT_TRACES_MAX_MB", "lots")
    with pytest.raises(WeftError, match="WEFT_TRACES_MAX_MB"):
        run_sync(big_output())


# -- giving the space back ---------------------------------------------------------------


def test_a_prune_shrinks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with closing(Journal(path)) as journal:
        for i in range(8):
            lease = journal.start_run(f"r{i}", "wf", None, "h", {"pad": "z" * 50 * KB})
            journal.end_run(lease, RunState.SUCCEEDED)
        report = journal.prune(keep=1)
    assert report.runs == 7
    assert report.bytes_before > 400 * KB
    assert report.bytes_after < 120 * KB
    assert os.path.getsize(path) == report.bytes_after  # the write-ahead log is empty


def test_a_journal_made_without_incremental_vacuum_is_converted_by_its_first_prune(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    with closing(sqlite3.connect(path)) as old:  # as an older weft made it: no auto_vacuum
        old.executescript(journal_schema._SCHEMA)
        for statement in (s for step in journal_schema.MIGRATIONS for s in step):
            old.execute(statement)
        old.execute(f"PRAGMA user_version = {len(journal_schema.MIGRATIONS)}")
        old.commit()
    with closing(Journal(path)) as journal:
        assert journal._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
        for i in range(4):
            lease = journal.start_run(f"r{i}", "wf", None, "h", {"pad": "z" * 50 * KB})
            journal.end_run(lease, RunState.SUCCEEDED)
        report = journal.prune(keep=0)
        assert journal._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental now
        assert journal._db.execute("PRAGMA user_version").fetchone()[0] == 1  # schema unchanged
    assert report.runs == 4
    assert report.bytes_after < report.bytes_before / 4


# -- the trace store ---------------------------------------------------------------------


@tool
def many(count: int) -> list[int]:
    return list(range(count))


@tool
def wide(index: int) -> str:
    return f"{index}" * 3000  # ~3-4 KB per span's output


def traced(name: str) -> Workflow:
    workflow = Workflow(name)
    workflow.node("items", many, with_={"count": 40})
    workflow.node("each", wide, foreach="${items}", with_={"index": "${item}"}, after=["items"])
    return workflow


async def test_a_trace_store_past_its_cap_deletes_its_oldest_finished_traces(
    tmp_path: Path,
) -> None:
    cap = 600 * KB
    store = TraceStore(tmp_path / "traces.db", writer="inline", max_bytes=cap)
    run_ids = []
    try:
        for i in range(12):
            result = await run_workflow(traced(f"t{i}"), journal=False, tracer=store)
            run_ids.append(result.run_id)
        assert store.size() <= cap
        kept = [r.run_id for r in store.runs(limit=100)]
    finally:
        store.close()
    assert kept == list(reversed(run_ids[-len(kept) :]))
    assert 2 <= len(kept) < 12
