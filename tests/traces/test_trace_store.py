"""The trace store: what goes in comes out, written in batches, found by id, prefix or ``last``."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Literal

import pytest

from weft.protocols import ErrorInfo, Usage, WeftError
from weft.runtime import compile_workflow
from weft.runtime.engine.executor import Executor
from weft.runtime.tracing import _db as trace_db
from weft.runtime.tracing.spans import FanOutTracer, MemoryTracer
from weft.runtime.tracing.store import TraceStore

from .conftest import TracedRun, check_facts, make_span, research_workflow


async def test_every_span_comes_back_with_its_ids_timing_and_attributes(tmp_path: Path) -> None:
    memory = MemoryTracer()
    store = TraceStore(tmp_path / "traces.db")
    result = await Executor(tracer=FanOutTracer(memory, store)).run(
        compile_workflow(research_workflow(), [check_facts]), {"subject": "tides"}
    )
    store.close()
    with TraceStore(tmp_path / "traces.db") as reopened:
        stored = {s.span_id: s for s in reopened.spans(result.run_id)}
    assert set(stored) == {s.span_id for s in memory.spans}
    for original in memory.spans:
        back = stored[original.span_id]
        assert (back.trace_id, back.parent_id, back.name, back.kind, back.status) == (
            original.trace_id,
            original.parent_id,
            original.name,
            original.kind,
            original.status,
        )
        assert back.node == original.node and back.run_id == result.run_id
        assert back.start == pytest.approx(original.start, abs=1e-6)
        assert back.end == pytest.approx(original.end, abs=1e-6)
    plan = next(s for s in stored.values() if s.name == "plan")
    assert plan.attributes["input"] == {"subject": "tides"}
    assert plan.attributes["output"] == ["tides: history", "tides: practice", "tides: future"]
    assert plan.attributes["weft.action"] == "plan_topics"


async def test_the_run_is_listed_with_its_workflow_state_and_span_count(
    traced_run: TracedRun,
) -> None:
    with traced_run.store() as store:
        (run,) = store.runs()
        spans = store.spans(run.run_id)
    assert run.run_id == traced_run.run_id
    assert (run.workflow, run.state, run.span_count) == ("research", "succeeded", len(spans))
    assert run.duration == pytest.approx(traced_run.result.duration, abs=0.01)
    assert run.trace_id == spans[0].trace_id


async def test_the_run_span_carries_the_workflow_graph(traced_run: TracedRun) -> None:
    with traced_run.store() as store:
        spans = store.spans(traced_run.run_id)
    (run_span,) = [s for s in spans if s.kind == "run"]
    graph = run_span.attributes["weft.graph"]
    assert [n["name"] for n in graph["nodes"]] == ["plan", "research", "summarise", "publish"]
    assert ["plan", "research"] in graph["edges"]


def test_a_run_is_found_by_id_by_unique_prefix_and_as_last(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        for run_id, start in (("abc111", 1.0), ("abc222", 2.0), ("def333", 3.0)):
            span = make_span(run_id, run_id[-3:] * 5 + "x")
            span.start, span.end = start, start + 1
            store.record(span)
        assert store.get_run("def333").run_id == "def333"
        assert store.get_run("abc1").run_id == "abc111"
        assert store.get_run("last").run_id == "def333"
        with pytest.raises(WeftError, match="ambiguous"):
            store.get_run("abc")
        with pytest.raises(WeftError, match="no run 'zzz'"):
            store.get_run("zzz")


def test_an_empty_store_has_no_last_run(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store, pytest.raises(WeftError, match="no runs"):
        store.get_run("last")


async def test_spans_wait_in_memory_and_a_whole_run_is_written_in_one_batch(
    tmp_path: Path,
) -> None:
    store = TraceStore(tmp_path / "t.db", flush_interval=60)
    for index in range(50):
        store.record(make_span("r1", f"{index:016x}", parent="f" * 16))
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM span_batches").fetchone() == (0,)
    assert store.sync().batches == 1
    with sqlite3.connect(path) as other:
        rows = other.execute("SELECT span_count FROM span_batches").fetchall()
    assert rows == [(50,)]
    assert store.batches_flushed == 1
    store.close()


async def test_a_traced_run_costs_one_write_however_many_nodes_it_has(tmp_path: Path) -> None:
    from weft import Workflow, tool

    @tool
    def step(x: int = 0) -> int:
        return x + 1

    wf = Workflow("chain")
    wf.node("n0", step)
    for i in range(1, 200):
        wf.node(f"n{i}", step, after=[f"n{i - 1}"])
    # no timer flush within the run (a loaded CI machine took longer than the default
    # interval): what is counted is the run's own write at its end, not one per node
    store = TraceStore(tmp_path / "t.db", flush_interval=600)
    await Executor(tracer=store).run(compile_workflow(wf), {})
    assert store.batches_flushed == 1
    assert len(store.spans(store.get_run("last").run_id)) == 201
    store.close()


async def test_buffered_spans_are_written_by_a_timer_without_a_flush(tmp_path: Path) -> None:
    written = asyncio.Event()

    class WatchedStore(TraceStore):
        def flush(self) -> None:
            super().flush()
            if self.batches_flushed:
                written.set()

    store = WatchedStore(tmp_path / "t.db", flush_interval=0.01)
    store.record(make_span("r1", "1" * 16))
    assert store.batches_flushed == 0
    await asyncio.wait_for(written.wait(), timeout=5)
    assert [s.span_id for s in store.spans("r1")] == ["1" * 16]
    store.close()


async def test_a_full_buffer_is_written_at_once(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db", flush_interval=60, max_buffer=10)
    for index in range(10):
        store.record(make_span("r1", f"{index:016x}", parent="f" * 16))
    assert store.batches_flushed == 1
    store.close()


def test_outside_an_event_loop_a_span_is_written_straight_away(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        store.record(make_span("r1", "1" * 16))
        assert store.batches_flushed == 1


def test_spans_of_interleaved_runs_are_kept_apart(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db", flush_interval=60) as store:
        store.record(make_span("r1", "1" * 16, parent="f" * 16))
        store.record(make_span("r2", "2" * 16, parent="f" * 16))
        store.record(make_span("r1", "3" * 16, parent="f" * 16))
        store.flush()
        assert [s.span_id for s in store.spans("r1")] == ["1" * 16, "3" * 16]
        assert [s.span_id for s in store.spans("r2")] == ["2" * 16]


def test_usage_is_kept_only_when_an_llm_was_involved_and_errors_as_dicts(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        store.record(make_span("r1", "1" * 16, usage=Usage(latency_s=0.2)))
        store.record(
            make_span(
                "r1",
                "2" * 16,
                usage=Usage(llm_calls=1, prompt_tokens=12, completion_tokens=3, cost=0.01),
                error=ErrorInfo(type="Boom", message="it broke"),
            )
        )
        plain, llm = store.spans("r1")
    assert "usage" not in plain.attributes
    assert llm.attributes["usage"] == {
        "llm_calls": 1,
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "cost": 0.01,
    }
    assert llm.attributes["error"]["message"] == "it broke"


def test_the_spans_view_answers_sql_about_single_spans(traced_run: TracedRun) -> None:
    with sqlite3.connect(traced_run.store_path) as db:
        rows = db.execute(
            "SELECT name, kind, status, duration FROM spans WHERE run_id = ? AND kind = 'node'"
            " ORDER BY start",
            (traced_run.run_id,),
        ).fetchall()
    assert [r[0] for r in rows] == ["plan", "research", "summarise", "publish"]
    assert all(r[2] == "succeeded" and r[3] >= 0 for r in rows)


def test_forgetting_a_run_removes_its_spans(traced_run: TracedRun) -> None:
    with traced_run.store() as store:
        assert store.delete([traced_run.run_id]) == 1
        assert store.runs() == [] and store.spans(traced_run.run_id) == []


async def test_a_workflow_outline_is_stored_once_however_often_it_runs(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    prepared = compile_workflow(research_workflow(), [check_facts])
    runs = [await Executor(tracer=store).run(prepared, {"subject": s}) for s in ("a", "b", "c")]
    store.sync()
    with sqlite3.connect(tmp_path / "traces.db") as db:
        assert db.execute("SELECT count(*) FROM graphs").fetchone() == (1,)
    for result in runs:
        (run_span,) = [s for s in store.spans(result.run_id) if s.kind == "run"]
        assert [n["name"] for n in run_span.attributes["weft.graph"]["nodes"]] == [
            "plan",
            "research",
            "summarise",
            "publish",
        ]
    assert store.delete([r.run_id for r in runs[:2]]) == 2
    with sqlite3.connect(tmp_path / "traces.db") as db:
        assert db.execute("SELECT count(*) FROM graphs").fetchone() == (1,)  # still used
    assert store.delete([runs[2].run_id]) == 1
    with sqlite3.connect(tmp_path / "traces.db") as db:
        assert db.execute("SELECT count(*) FROM graphs").fetchone() == (0,)
    # Forgotten, then run again: written again.
    again = await Executor(tracer=store).run(prepared, {"subject": "d"})
    (run_span,) = [s for s in store.spans(again.run_id) if s.kind == "run"]
    assert run_span.attributes["weft.graph"]["name"] == prepared.name
    store.close()


@pytest.fixture(params=["process", "inline"])
def writer(request: pytest.FixtureRequest) -> str:
    """Where the store checks and commits: its writer process, or its own."""
    return str(request.param)


async def test_the_log_is_checkpointed_when_the_store_is_idle_not_during_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: Literal["process", "inline"]
) -> None:
    # idle long enough that a loaded machine's pause between two runs is not idleness
    monkeypatch.setattr(trace_db, "IDLE_CHECKPOINT_S", 0.4)
    store = TraceStore(tmp_path / "traces.db", writer=writer)
    prepared = compile_workflow(research_workflow(), [check_facts])
    for subject in ("a", "b", "c"):
        await Executor(tracer=store).run(prepared, {"subject": subject})
    stats = store.sync()
    # back to back: no checkpoint between (a flush timer may split a run into two batches)
    assert stats.batches >= 3 and stats.checkpoints == 0
    await asyncio.sleep(1.5)  # then idle (asking for stats is activity: ask once, after)
    assert store.sync().checkpoints == 1
    store.close()
    assert not (tmp_path / "traces.db-wal").exists() or (
        (tmp_path / "traces.db-wal").stat().st_size == 0
    )


async def test_a_long_log_is_checkpointed_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: Literal["process", "inline"]
) -> None:
    monkeypatch.setattr(trace_db, "CHECKPOINT_BYTES", 1)
    store = TraceStore(tmp_path / "traces.db", writer=writer)
    await Executor(tracer=store).run(
        compile_workflow(research_workflow(), [check_facts]), {"subject": "tides"}
    )
    # at once: before the idle second; one per batch, and on a loaded machine the flush
    # timer may split the run into two batches (it failed once as 2 == 1)
    assert store.sync().checkpoints >= 1
    store.close()
