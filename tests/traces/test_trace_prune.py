"""Pruning the trace store: which traces go, what stays, and the file shrinking."""

from __future__ import annotations

import time
from pathlib import Path

from weft.runtime.tracing.store import TraceStore

from .conftest import make_span


def finished(store: TraceStore, run_id: str, end: float, spans: int = 3) -> None:
    """A trace of ``run_id`` whose run span ended at ``end``, with ``spans`` node spans."""
    for i in range(spans):
        node = make_span(run_id, f"{run_id}-n{i}", parent=f"{run_id}-run", output="o" * 2000)
        node.start, node.end = end - 0.5, end - 0.1
        store.record(node)
    run = make_span(run_id, f"{run_id}-run")
    run.start, run.end = end - 1, end
    store.record(run)
    store.flush()


def unfinished(store: TraceStore, run_id: str) -> None:
    """The trace of a run killed before its run span was written: it stays ``running``."""
    store.record(make_span(run_id, f"{run_id}-n0", parent=f"{run_id}-run"))
    store.flush()


def test_traces_that_finished_before_the_time_go_with_their_spans(tmp_path: Path) -> None:
    now = time.time()
    with TraceStore(tmp_path / "traces.db") as store:
        finished(store, "old", end=now - 3600)
        finished(store, "new", end=now)
        report = store.prune(before=now - 60)
        assert report.run_ids == ["old"]
        assert report.rows >= 1
        assert [r.run_id for r in store.runs()] == ["new"]
        assert store.spans("old") == []
        assert len(store.spans("new")) == 4


def test_an_unfinished_trace_goes_only_once_nothing_was_written_to_it_for_that_long(
    tmp_path: Path,
) -> None:
    with TraceStore(tmp_path / "traces.db") as store:
        unfinished(store, "killed")
        assert store.prune(keep=0).run_ids == []  # no time given: finished traces only
        assert store.prune(before=time.time() - 3600).run_ids == []  # written just now
        time_after_it = time.time() + 1
        assert store.prune(before=time_after_it).run_ids == ["killed"]


def test_pruning_keeps_the_most_recently_started_traces(tmp_path: Path) -> None:
    now = time.time()
    with TraceStore(tmp_path / "traces.db") as store:
        for i in range(4):
            finished(store, f"r{i}", end=now - 100 + i)
        assert store.prune(keep=3).run_ids == ["r0"]
        assert sorted(r.run_id for r in store.runs()) == ["r1", "r2", "r3"]


def test_a_dry_run_deletes_nothing(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "traces.db") as store:
        finished(store, "r0", end=time.time() - 10)
        report = store.prune(keep=0, dry_run=True)
        assert (report.dry_run, report.run_ids) == (True, ["r0"])
        assert [r.run_id for r in store.runs()] == ["r0"]


def test_a_prune_gives_the_space_back_to_the_disk(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "traces.db", writer="inline") as store:
        for i in range(20):
            finished(store, f"r{i}", end=time.time() - 100, spans=40)
        report = store.prune(keep=1)
    assert report.runs == 19
    assert report.bytes_after < report.bytes_before / 3
    assert (tmp_path / "traces.db").stat().st_size == report.bytes_after
