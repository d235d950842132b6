"""``weft trace ls`` names the workflow of a run that is still running.

A run's row in the trace store used to get its workflow from the run span,
written when the run ends, so a running run was listed as ``-``. The
executor now tells the tracer the workflow when the run starts
(``Tracer.begin_run``), and the store names the run from its first spans.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from weft import Workflow, tool
from weft.cli import cli
from weft.runtime.engine.runner import run_workflow
from weft.runtime.tracing.store import TraceStore


async def test_a_running_run_is_listed_with_its_workflow(tmp_path: Path) -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    @tool
    def first() -> str:
        return "one"

    @tool
    async def second(text: str) -> str:
        started.set()
        await gate.wait()
        return text + " two"

    wf = Workflow("nightly-report")
    wf.node("a", first)
    wf.node("b", second, after=["a"])
    path = tmp_path / "traces.db"
    store = TraceStore(path, writer="inline", flush_interval=0.01)
    run = asyncio.create_task(run_workflow(wf, tracer=store, journal=False))
    try:
        await asyncio.wait_for(started.wait(), 10)
        store.sync()  # node 'a' and its call are written: the run is listed
        [listed] = store.runs()
        assert (listed.workflow, listed.state) == ("nightly-report", "running")
        shown = CliRunner().invoke(cli, ["trace", "ls", "--store", str(path)])
        assert shown.exit_code == 0, shown.output
        assert "nightly-report" in shown.output and "running" in shown.output
    finally:
        gate.set()
        result = await run
        store.close()
    assert result.ok
    with TraceStore(path, writer="inline") as reread:
        [done] = reread.runs()
    assert (done.workflow, done.state) == ("nightly-report", "succeeded")


def test_spans_of_a_finished_run_written_late_do_not_make_it_running_again(
    tmp_path: Path,
) -> None:
    """An agent host's spans of a run may reach the store after the run span."""
    from weft.runtime.tracing.spans import SpanRecord

    path = tmp_path / "traces.db"
    with TraceStore(path, writer="inline") as store:
        store.begin_run("r1", "late")
        store.record(SpanRecord("t1", "s2", "s1", "work", "call", 1.0, 2.0, "ok", run_id="r1"))
        store.record(
            SpanRecord("t1", "s1", None, "late", "run", 0.5, 3.0, "succeeded", run_id="r1")
        )
        store.sync()
        store.record(SpanRecord("t1", "s3", "s1", "more", "call", 2.0, 2.5, "ok", run_id="r1"))
        store.sync()
        [run] = store.runs()
    assert (run.workflow, run.state, run.span_count) == ("late", "succeeded", 3)
