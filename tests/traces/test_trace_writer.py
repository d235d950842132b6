"""The trace writer process: what it is handed is committed, checked, and never lost.

The store hands encoded batches to a process of its own (``trace_writer``),
which checks node rows for secrets and size and commits them. These tests
pin what that move must not cost: secrets registered after the writer
started, a run's process dying right after a flush, a writer killed or
interrupted, and the fallback to writing in the store's own process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import structlog

from weft import Workflow, tool
from weft.runtime import compile_workflow
from weft.runtime.engine.executor import Executor
from weft.runtime.support.redaction import MASK, Redactor
from weft.runtime.tracing.span_codec import SpanCodec
from weft.runtime.tracing.spans import NodeGroup
from weft.runtime.tracing.store import TraceStore
from weft.runtime.tracing.writer import InlineWriter, ProcessWriter

from .conftest import make_span


@tool
def echo(value: str) -> str:
    """Passes its input on."""
    return value


class Handle:
    """An object that cannot be pickled (it holds a lock), as live outputs often can't."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __str__(self) -> str:
        return "<handle>"


@tool
def open_handle(value: str) -> Any:
    """Returns something only this process can hold."""
    return Handle()


def two_steps() -> Workflow:
    wf = Workflow("two-steps")
    wf.input("value")
    wf.node("first", echo, with_={"value": "${inputs.value}"})
    wf.node("second", echo, after=["first"])
    return wf


def _writer_of(store: TraceStore) -> ProcessWriter:
    writer = store._writer
    assert isinstance(writer, ProcessWriter), f"expected the writer process, got {writer!r}"
    return writer


async def test_node_rows_are_checked_and_committed_by_a_process_of_their_own(
    tmp_path: Path,
) -> None:
    store = TraceStore(tmp_path / "traces.db", writer="process")
    result = await Executor(tracer=store).run(compile_workflow(two_steps()), {"value": "hello"})
    writer = _writer_of(store)
    assert writer.pid != os.getpid()
    spans = {s.name: s for s in store.spans(result.run_id)}
    assert spans["first"].attributes["input"] == {"value": "hello"}
    assert spans["second"].attributes["output"] == "hello"
    assert spans["second"].parent_id == spans["two-steps"].span_id
    store.close()
    assert writer._process.returncode == 0


async def test_a_secret_registered_after_the_writer_started_is_masked_by_it(
    tmp_path: Path,
) -> None:
    redactor = Redactor()
    store = TraceStore(tmp_path / "traces.db", codec=SpanCodec(redactor=redactor), writer="process")
    prepared = compile_workflow(two_steps())
    await Executor(tracer=store).run(prepared, {"value": "before"})
    store.sync()  # the writer is running, with the secrets known then
    redactor.register_secret("hunter2-is-secret")
    result = await Executor(tracer=store).run(prepared, {"value": "pw hunter2-is-secret"})
    spans = {s.name: s for s in store.spans(result.run_id)}
    assert spans["second"].attributes["output"] == f"pw {MASK}"
    store.close()
    assert b"hunter2" not in (tmp_path / "traces.db").read_bytes()


def test_spans_handed_over_survive_the_run_process_dying_at_once(tmp_path: Path) -> None:
    """A flush is enough: the writer commits what it was given when its input closes."""
    script = textwrap.dedent(
        f"""
        import os
        from weft.runtime.tracing.store import TraceStore
        from weft.runtime.tracing.spans import SpanRecord

        store = TraceStore({str(tmp_path / "traces.db")!r}, flush_interval=60,
                           writer="process")
        for index in range(20):
            store.record(SpanRecord(trace_id="a" * 32, span_id=f"{{index:016x}}",
                                    parent_id="f" * 16, name="s", kind="node", start=1.0,
                                    end=2.0, status="succeeded", run_id="r1"))
        store.flush()
        os._exit(0)  # no close, no atexit: the process is simply gone
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    # The orphaned writer may still be starting or committing (the spans may arrive in
    # more than one commit, which a loaded machine makes visible): give it a few seconds.
    deadline = time.monotonic() + 20
    with TraceStore(tmp_path / "traces.db", writer="inline") as store:
        while len(store.spans("r1")) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(store.spans("r1")) == 20


async def test_a_killed_writer_is_replaced_by_writing_here_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    store = TraceStore(tmp_path / "traces.db", writer="process")
    prepared = compile_workflow(two_steps())
    first = await Executor(tracer=store).run(prepared, {"value": "one"})
    store.sync()
    writer = _writer_of(store)
    os.kill(writer.pid, signal.SIGKILL)
    writer._process.wait(timeout=10)
    with structlog.testing.capture_logs() as logs:
        second = await Executor(tracer=store).run(prepared, {"value": "two"})
        assert len(store.spans(second.run_id)) == 3
    assert isinstance(store._writer, InlineWriter)
    assert any(entry["event"] == "trace writer process gone; writing here" for entry in logs)
    assert len(store.spans(first.run_id)) == 3
    store.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_stop_signal_to_the_process_group_does_not_stop_the_writer(
    tmp_path: Path, signum: int
) -> None:
    """Ctrl-C in a terminal, and SIGTERM from systemd or ``kill -- -PGID``, reach the whole
    process group; the run's process stops the run and then closes the writer's input.
    A writer that died of the SIGTERM itself lost what it had not committed yet."""
    store = TraceStore(tmp_path / "traces.db", writer="process")
    prepared = compile_workflow(two_steps())
    await Executor(tracer=store).run(prepared, {"value": "one"})
    store.sync()
    writer = _writer_of(store)
    os.kill(writer.pid, signum)
    result = await Executor(tracer=store).run(prepared, {"value": "two"})
    assert len(store.spans(result.run_id)) == 3
    assert store._writer is writer and writer._process.poll() is None
    store.close()


async def test_a_store_starts_its_writer_process_once_runs_are_big_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import weft.runtime.tracing.store as trace_store

    monkeypatch.setattr(trace_store, "PROCESS_AFTER_ROWS", 4)
    store = TraceStore(tmp_path / "traces.db")
    prepared = compile_workflow(two_steps())
    first = await Executor(tracer=store).run(prepared, {"value": "one"})
    assert isinstance(store._writer, InlineWriter)  # two node rows: not worth a process
    second = await Executor(tracer=store).run(prepared, {"value": "two"})
    third = await Executor(tracer=store).run(prepared, {"value": "three"})
    assert isinstance(store._writer, ProcessWriter)
    for result in (first, second, third):
        assert len(store.spans(result.run_id)) == 3
    store.close()


def test_an_inline_store_starts_no_process(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "traces.db", writer="inline") as store:
        store.record(make_span("r1", "1" * 16))
        assert isinstance(store._writer, InlineWriter)
        assert [s.span_id for s in store.spans("r1")] == ["1" * 16]


async def test_an_output_that_is_not_json_is_a_traced_error_and_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    # results are JSON (weft.protocols.results): an unpicklable handle never
    # reaches the writer process as an output; its node fails, and says why
    wf = Workflow("handles")
    wf.input("value")
    wf.node("open", open_handle, with_={"value": "${inputs.value}"})
    store = TraceStore(tmp_path / "traces.db", writer="process")
    result = await Executor(tracer=store).run(compile_workflow(wf), {"value": "x"})
    assert not result.ok
    spans = {s.name: s for s in store.spans(result.run_id)}
    error = spans["open"].attributes["error"]
    assert error["type"] == "OutputNotJSON"
    assert isinstance(store._writer, ProcessWriter)
    store.close()


def test_unchecked_rows_are_never_stored() -> None:
    codec = SpanCodec(redactor=Redactor())
    row = ("a" * 16, "n1", 1.0, 2.0, "succeeded", "step", {"password": "x"}, 1)
    batch = codec.encode_batch([], {NodeGroup("r", "t" * 32, None): [row]})
    with pytest.raises(RuntimeError, match="check_rows"):
        list(batch.documents())
