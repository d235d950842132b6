"""Runs made from Python are recorded as `weft run` records them, unless switched off.

By default ``run_sync`` and ``run_workflow`` journal a run to
``$WEFT_HOME/journal.db`` and trace it to ``$WEFT_HOME/traces.db`` (the suite's
``WEFT_HOME`` is a fresh temporary folder per test, tests/conftest.py);
``record=False`` or ``WEFT_RECORD=0`` records nothing, and a journal or tracer
the caller passes wins. The stores the runner opens are kept and shared, so
many runs hold a bounded number of files, and a thread's stores close with it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from weft import RunState, StorageError, WeftError, Workflow, run_sync, tool
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.tracing.spans import MemoryTracer
from weft.runtime.tracing.store import TraceStore

PROC_FD = Path("/proc/self/fd")
needs_proc = pytest.mark.skipif(not PROC_FD.is_dir(), reason="counts open files in /proc")


def add_one(x: int) -> int:
    return x + 1


def tiny() -> Workflow:
    """One node, a plain ``def`` (it runs in a worker thread)."""
    wf = Workflow("tiny")
    wf.node("add", add_one, with_={"x": 1})
    return wf


def home() -> Path:
    return Path(os.environ["WEFT_HOME"])


def nothing_in_home() -> bool:
    return not home().exists() or not any(home().iterdir())


@contextmanager
def journal_at(path: Path) -> Iterator[Journal]:
    journal = Journal(path)
    try:
        yield journal
    finally:
        journal.close()


@contextmanager
def traces_at(path: Path) -> Iterator[TraceStore]:
    store = TraceStore(path)
    try:
        yield store
    finally:
        store.close()


def journaled_ids(path: Path) -> list[str]:
    with journal_at(path) as journal:
        return [r.run_id for r in journal.list_runs(100)]


def traced_ids(path: Path) -> list[str]:
    with traces_at(path) as store:
        return [r.run_id for r in store.runs(100)]


def open_files(under: Path | None = None) -> list[str]:
    """What this process has open (``/proc/self/fd``), only what lies ``under`` if given."""
    found = []
    for fd in os.listdir(PROC_FD):
        try:
            target = os.readlink(PROC_FD / fd)
        except OSError:  # the descriptor listdir itself used, closed since
            continue
        if under is None or target.startswith(str(under)):
            found.append(target)
    return found


def other_threads() -> list[str]:
    """The threads alive, but for the pool ``def`` tools run in (it grows to its bound)."""
    return sorted(t.name for t in threading.enumerate() if not t.name.startswith("weft-tool"))


# -- on by default ------------------------------------------------------------


def test_run_sync_journals_and_traces_the_run_under_weft_home() -> None:
    result = run_sync(tiny())

    assert result.ok
    with journal_at(home() / "journal.db") as journal:
        record = journal.get_run(result.run_id)
        assert (record.workflow, record.state) == ("tiny", RunState.SUCCEEDED)
        assert journal.lease(result.run_id) is None
        assert journal.completed_calls(result.run_id) == {"add": 2}
    with traces_at(home() / "traces.db") as store:
        last = store.get_run("last")
        assert (last.run_id, last.workflow, last.state) == (result.run_id, "tiny", "succeeded")
        nodes = [s for s in store.spans(result.run_id) if s.kind == "node"]
        assert [(s.name, s.attributes["output"]) for s in nodes] == [("add", 2)]


async def test_concurrent_runs_on_one_loop_are_all_recorded() -> None:
    results = await asyncio.gather(*(run_workflow(tiny()) for _ in range(5)))

    ids = sorted(r.run_id for r in results)
    assert sorted(journaled_ids(home() / "journal.db")) == ids
    assert sorted(traced_ids(home() / "traces.db")) == ids


def test_resume_run_traces_into_the_default_store_too() -> None:
    healthy = False

    @tool
    def shaky() -> str:
        if not healthy:
            raise RuntimeError("down")
        return "up"

    wf = Workflow("shaky")
    wf.node("first", add_one, with_={"x": 1})
    wf.node("second", shaky, after=["first"])
    failed = run_sync(wf)
    assert failed.state is RunState.FAILED

    healthy = True
    resumed = asyncio.run(resume_run(failed.run_id, definition=wf))

    assert resumed.ok and resumed.nodes["first"].cached
    with traces_at(home() / "traces.db") as store:
        assert store.get_run(failed.run_id).state == "succeeded"
        spans = store.spans(failed.run_id)
    assert [s.status for s in spans if s.kind == "run"] == ["failed", "succeeded"]


# -- off, and what wins -------------------------------------------------------


def test_record_false_writes_nothing() -> None:
    assert run_sync(tiny(), record=False).ok
    assert nothing_in_home()


def test_weft_record_0_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEFT_RECORD", "0")
    assert run_sync(tiny()).ok
    assert nothing_in_home()


def test_record_true_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEFT_RECORD", "off")
    result = run_sync(tiny(), record=True)
    assert journaled_ids(home() / "journal.db") == [result.run_id]


def test_an_unknown_weft_record_value_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEFT_RECORD", "sometimes")
    with pytest.raises(WeftError, match=r"WEFT_RECORD='sometimes': use 1 .* or 0"):
        run_sync(tiny())


def test_a_journal_and_tracer_passed_in_win_and_stay_open(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "mine.db")
    tracer = MemoryTracer()

    result = run_sync(tiny(), journal=journal, tracer=tracer, record=False)

    assert journal.get_run(result.run_id).state is RunState.SUCCEEDED  # not closed
    assert [s.name for s in tracer.by_kind("node")] == ["add"]
    assert nothing_in_home()
    journal.close()


def test_journal_false_keeps_the_trace_and_tracer_false_the_journal() -> None:
    traced = run_sync(tiny(), journal=False)
    journaled = run_sync(tiny(), tracer=False)

    assert journaled_ids(home() / "journal.db") == [journaled.run_id]
    assert traced_ids(home() / "traces.db") == [traced.run_id]


def test_a_journal_path_is_opened_by_the_runner(tmp_path: Path) -> None:
    result = run_sync(tiny(), journal=tmp_path / "elsewhere.db", tracer=False)
    assert journaled_ids(tmp_path / "elsewhere.db") == [result.run_id]


def test_an_unusable_weft_home_is_one_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "a-file" / "home"))
    with pytest.raises(StorageError, match=r"'.*a-file' is a file, not a folder.*record=False"):
        run_sync(tiny())


# -- shared, bounded, closed --------------------------------------------------


@needs_proc
def test_many_runs_keep_the_open_files_and_threads_bounded() -> None:
    for _ in range(10):
        run_sync(tiny())
    files, ours, threads = len(open_files()), open_files(home()), other_threads()

    for _ in range(300):
        run_sync(tiny())

    assert sorted(open_files(home())) == sorted(ours)
    assert len(open_files()) <= files
    assert other_threads() == threads
    assert len(journaled_ids(home() / "journal.db")) == 100  # list_runs(100): the newest
    with traces_at(home() / "traces.db") as store:
        assert len(store.runs(1000)) == 310


@needs_proc
def test_a_thread_s_stores_are_closed_when_the_thread_ends() -> None:
    def runs() -> None:
        for _ in range(3):
            run_sync(tiny())

    threads = [threading.Thread(target=runs) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert open_files(home()) == []
    assert len(journaled_ids(home() / "journal.db")) == 12


@needs_proc
def test_another_weft_home_closes_the_stores_of_the_last_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = home()
    run_sync(tiny())
    assert open_files(first) != []

    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "second"))
    run_sync(tiny())

    assert open_files(first) == []


def test_a_deleted_weft_home_is_made_again_not_written_through_old_files() -> None:
    run_sync(tiny())
    shutil.rmtree(home())

    result = run_sync(tiny())

    assert journaled_ids(home() / "journal.db") == [result.run_id]
    assert traced_ids(home() / "traces.db") == [result.run_id]


# -- Ctrl-C -------------------------------------------------------------------


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="asyncio.run turns SIGINT into a cancel only under Python's own handler",
)
def test_ctrl_c_in_run_sync_leaves_a_cancelled_run_that_resumes() -> None:
    interrupted = True

    @tool
    async def wait() -> str:
        if interrupted:
            signal.raise_signal(signal.SIGINT)  # as a terminal's Ctrl-C would
            await asyncio.Event().wait()
        return "done"

    wf = Workflow("waiting")
    wf.node("before", add_one, with_={"x": 1})
    wf.node("wait", wait, after=["before"])

    with pytest.raises(KeyboardInterrupt):
        run_sync(wf)

    with journal_at(home() / "journal.db") as journal:
        [record] = journal.list_runs()
        assert record.state is RunState.CANCELLED
        assert journal.lease(record.run_id) is None  # resumable at once
    interrupted = False
    resumed = asyncio.run(resume_run(record.run_id, definition=wf))
    assert resumed.ok and resumed.nodes["before"].cached
    assert resumed.outputs == {"wait": "done"}
