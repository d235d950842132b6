"""One specification for every run journal (after LangGraph's checkpoint conformance).

Each test runs against every way a ``Journal`` is kept:

- ``file``: a SQLite file, written and read by one instance;
- ``file, reopened``: a SQLite file, read back by a *new* instance after the
  writer closed, as ``weft resume`` reads what a dead ``weft run`` wrote;
- ``memory``: SQLite's ``:memory:`` database (one instance; nothing survives).

A test writes with ``backend.open()`` and reads with ``backend.reopen(journal)``,
so the same specification checks the API everywhere and durability where the
journal is durable. Besides runs, events and resume, it specifies leases:
which process holds a running run, its heartbeat, and when another may take
the run over; and pruning: which runs may be deleted. A future journal
(another database, a server) joins by adding a backend here.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from weft import ResumeMismatchError, RunState, Workflow, compile_workflow, tool
from weft.protocols import (
    ErrorInfo,
    EventKind,
    RunEvent,
    RunInProgressError,
    RunNotFoundError,
    Usage,
    WeftError,
)
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine import Lease


class Backend:
    """How one kind of journal is opened for writing, and opened again for reading."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.target = ":memory:" if kind == "memory" else str(folder / "journal.db")
        self.opened: list[Journal] = []

    def open(self, **options: Any) -> Journal:
        journal = Journal(self.target, **options)
        self.opened.append(journal)
        return journal

    def reopen(self, journal: Journal) -> Journal:
        """The journal a later process would read: a new instance on the same file."""
        if self.kind != "file, reopened":
            return journal
        journal.close()
        self.opened.remove(journal)
        return self.open()

    def close(self) -> None:
        for journal in self.opened:
            journal.close()


@pytest.fixture(params=["file", "file, reopened", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made = Backend(request.param, tmp_path)
    yield made
    made.close()


def start(journal: Journal, run_id: str, graph_hash: str = "h1", **inputs: Any) -> Lease:
    return journal.start_run(run_id, "wf", None, graph_hash, inputs)


def next_tick() -> None:
    """Return once ``time.time()`` has moved on, so two runs never share a start time."""
    now = time.time()
    while time.time() == now:
        pass


# -- runs ----------------------------------------------------------------------------


def test_a_started_run_is_read_back_with_its_definition(backend: Backend) -> None:
    journal = backend.open()
    journal.start_run("r1", "report", "/work/report.yaml", "abc123", {"folder": "docs"})
    run = backend.reopen(journal).get_run("r1")
    assert (run.run_id, run.workflow, run.source, run.graph_hash) == (
        "r1",
        "report",
        "/work/report.yaml",
        "abc123",
    )
    assert run.inputs == {"folder": "docs"}
    assert run.state is RunState.RUNNING
    assert run.finished_at is None


def test_a_finished_run_keeps_its_state_outputs_and_end_time(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "r1")
    journal.set_run_state("r1", RunState.SUCCEEDED, {"report": "done"})
    run = backend.reopen(journal).get_run("r1")
    assert run.state is RunState.SUCCEEDED
    assert run.outputs == {"report": "done"}
    assert run.finished_at is not None and run.finished_at >= run.started_at


def test_a_run_id_is_started_only_once(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "r1")
    with pytest.raises(WeftError, match="run 'r1' already exists"):
        start(journal, "r1")


def test_an_unknown_run_is_not_found(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "r1")
    with pytest.raises(RunNotFoundError, match="no run 'x'"):
        backend.reopen(journal).get_run("x")


# -- events --------------------------------------------------------------------------


def test_events_are_read_back_in_the_order_they_were_appended(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "r1")
    written = [
        RunEvent(run_id="r1", kind=EventKind.RUN_STARTED, state="running"),
        RunEvent(run_id="r1", kind=EventKind.NODE_STARTED, node="b", key="b", attempt=1),
        RunEvent(run_id="r1", kind=EventKind.NODE_STARTED, node="a", key="a", attempt=1),
        RunEvent(
            run_id="r1",
            kind=EventKind.NODE_FINISHED,
            node="a",
            key="a",
            state="succeeded",
            attempt=1,
            output={"words": 3},
            usage=Usage(llm_calls=1, prompt_tokens=10),
        ),
        RunEvent(
            run_id="r1",
            kind=EventKind.NODE_FINISHED,
            node="b",
            key="b",
            state="failed",
            attempt=1,
            error=ErrorInfo(type="Timeout", message="b: timed out", retryable=True),
        ),
        RunEvent(run_id="r1", kind=EventKind.PROGRESS, node="b", data={"done": 0.5}),
    ]
    for event in written:
        journal.append(event)
    read = list(backend.reopen(journal).events("r1"))
    assert [(e.kind, e.node, e.key, e.state, e.attempt) for e in read] == [
        (e.kind, e.node, e.key, e.state, e.attempt) for e in written
    ]
    assert read[3].output == {"words": 3}
    assert read[3].usage == Usage(llm_calls=1, prompt_tokens=10)
    assert read[4].error == ErrorInfo(type="Timeout", message="b: timed out", retryable=True)
    assert read[5].data == {"done": 0.5}


def test_each_run_reads_only_its_own_events(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "r1")
    start(journal, "r2")
    for run_id, node in (("r1", "a"), ("r2", "x"), ("r1", "b"), ("r2", "y")):
        journal.append(RunEvent(run_id=run_id, kind=EventKind.NODE_STARTED, node=node, key=node))
    journal = backend.reopen(journal)
    assert [e.node for e in journal.events("r1")] == ["a", "b"]
    assert [e.node for e in journal.events("r2")] == ["x", "y"]


def test_completed_calls_are_the_outputs_of_calls_that_succeeded(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "r1")
    finished = EventKind.NODE_FINISHED
    journal.append(RunEvent(run_id="r1", kind=finished, key="a", state="succeeded", output=1))
    journal.append(RunEvent(run_id="r1", kind=finished, key="b", state="failed"))
    journal.append(RunEvent(run_id="r1", kind=finished, key="c[0]", state="succeeded", output=None))
    journal.append(RunEvent(run_id="r1", kind=EventKind.NODE_STARTED, key="d"))
    assert backend.reopen(journal).completed_calls("r1") == {"a": 1, "c[0]": None}


# -- leases: a run is held by the one process that runs it ----------------------------


def silent_past_grace(journal: Journal, run_id: str) -> None:
    """Return once the lease on ``run_id`` has gone unrefreshed for longer than its
    period times the grace factor, as when its holder froze or lost its host."""
    lease = journal.lease(run_id)
    assert lease is not None
    while lease.expiry_reason() is None:
        pass


def test_a_started_run_is_held_by_the_process_that_started_it(backend: Backend) -> None:
    journal = backend.open()
    before = time.time()
    taken = journal.start_run("r1", "wf", None, "h1", {})
    held = backend.reopen(journal).lease("r1")
    assert held == taken
    assert (held.run_id, held.pid, held.host) == ("r1", os.getpid(), socket.gethostname())
    assert held.heartbeat >= before
    assert held.period == journal.lease_period


def test_a_refresh_moves_the_heartbeat_on(backend: Backend) -> None:
    journal = backend.open()
    taken = start(journal, "r1")
    next_tick()
    assert journal.refresh_lease(taken)
    held = backend.reopen(journal).lease("r1")
    assert held is not None and held.heartbeat > taken.heartbeat


def test_ending_a_run_records_its_state_and_gives_its_lease_back(backend: Backend) -> None:
    journal = backend.open()
    taken = start(journal, "r1")
    assert journal.end_run(taken, RunState.FAILED, {"partial": 1})
    journal = backend.reopen(journal)
    assert journal.lease("r1") is None
    assert journal.get_run("r1").state is RunState.FAILED
    assert journal.get_run("r1").outputs == {"partial": 1}


def test_a_run_whose_holder_is_alive_is_refused_naming_run_host_and_pid(
    backend: Backend,
) -> None:
    journal = backend.open()
    start(journal, "r1")
    with pytest.raises(RunInProgressError) as refused:
        backend.reopen(journal).acquire_lease("r1")
    message = str(refused.value)
    assert "run r1 is still running" in message
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in message
    assert "\n" not in message


def test_a_lease_silent_past_its_grace_period_is_taken_over(backend: Backend) -> None:
    journal = backend.open(lease_period=0.001)
    old = start(journal, "r1")
    silent_past_grace(journal, "r1")
    journal = backend.reopen(journal)
    taken, previous = journal.acquire_lease("r1")
    assert previous == old
    assert taken.owner != old.owner
    assert journal.lease("r1") == taken


def test_a_lease_taken_over_is_neither_refreshed_nor_ended_by_its_old_holder(
    backend: Backend,
) -> None:
    journal = backend.open(lease_period=0.001)
    old = start(journal, "r1")
    silent_past_grace(journal, "r1")
    taken, _ = journal.acquire_lease("r1")
    assert not journal.refresh_lease(old)
    assert not journal.end_run(old, RunState.CANCELLED)
    journal = backend.reopen(journal)
    assert journal.lease("r1") == taken
    assert journal.get_run("r1").state is RunState.RUNNING


def test_a_run_that_ended_is_acquired_without_a_takeover(backend: Backend) -> None:
    journal = backend.open()
    journal.end_run(start(journal, "r1"), RunState.FAILED)
    taken, previous = backend.reopen(journal).acquire_lease("r1")
    assert previous is None
    assert taken.pid == os.getpid()


def test_an_unknown_run_has_no_lease_to_acquire(backend: Backend) -> None:
    journal = backend.open()
    with pytest.raises(RunNotFoundError, match="no run 'x'"):
        journal.acquire_lease("x")


def test_a_journal_names_the_runs_it_started_or_took_and_no_others(backend: Backend) -> None:
    journal = backend.open()
    other = backend.open()  # another process on the same journal (memory: its own)
    journal.end_run(start(journal, "first"), RunState.FAILED)
    start(other, "theirs")
    start(journal, "second")
    journal.acquire_lease("first")
    assert journal.opened_runs == ["first", "second", "first"]


# -- resume --------------------------------------------------------------------------


def stepping_workflow(calls: list[str], broken: set[str]) -> Workflow:
    @tool
    def step(name: str) -> str:
        calls.append(name)
        if name in broken:
            raise RuntimeError(f"{name} is down")
        return name

    wf = Workflow("steps")
    wf.node("first", step, with_={"name": "first"})
    wf.node("second", step, after=["first"], with_={"name": "second"})
    wf.node("third", step, after=["second"], with_={"name": "third"})
    return wf


async def test_a_resumed_run_does_not_repeat_its_finished_nodes(backend: Backend) -> None:
    calls: list[str] = []
    broken = {"second"}
    wf = stepping_workflow(calls, broken)
    failed = await run_workflow(wf, journal=backend.open())
    assert failed.state is RunState.FAILED

    broken.clear()
    journal = backend.reopen(backend.opened[-1])
    resumed = await resume_run(failed.run_id, journal=journal, definition=wf)
    assert resumed.state is RunState.SUCCEEDED
    assert calls == ["first", "second", "second", "third"]
    assert resumed.nodes["first"].cached
    assert journal.get_run(failed.run_id).state is RunState.SUCCEEDED


async def test_a_run_records_the_hash_of_its_graph(backend: Backend) -> None:
    wf = stepping_workflow([], set())
    result = await run_workflow(wf, journal=backend.open())
    journal = backend.reopen(backend.opened[-1])
    assert journal.get_run(result.run_id).graph_hash == compile_workflow(wf).graph_hash


async def test_a_changed_graph_is_not_resumed(backend: Backend) -> None:
    calls: list[str] = []
    wf = stepping_workflow(calls, {"second"})
    failed = await run_workflow(wf, journal=backend.open())
    changed = stepping_workflow(calls, set())
    changed.node("fourth", "step", after=["third"], with_={"name": "fourth"})
    journal = backend.reopen(backend.opened[-1])
    with pytest.raises(ResumeMismatchError, match="changed since run"):
        await resume_run(failed.run_id, journal=journal, definition=changed)
    assert calls == ["first", "second"]


# -- finding runs --------------------------------------------------------------------


def test_a_run_is_found_by_a_unique_prefix_of_its_id(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "3f2a9c")
    start(journal, "3f7b11")
    assert backend.reopen(journal).get_run("3f2").run_id == "3f2a9c"


def test_an_ambiguous_prefix_is_refused_naming_the_candidates(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "3f2a9c")
    start(journal, "3f7b11")
    with pytest.raises(RunNotFoundError, match=r"ambiguous: .*3f2a9c") as info:
        backend.reopen(journal).get_run("3f")
    assert "3f7b11" in str(info.value)


@pytest.mark.parametrize(
    ("prefix", "found", "other"),
    [
        ("run_", "run_a1", "runXa2"),  # ``_`` is not "any one character"
        ("50%", "50%-x", "500-y"),  # ``%`` is not "anything"
        ("Run", "Run1", "run2"),  # case counts
    ],
)
def test_a_prefix_matches_its_characters_literally(
    backend: Backend, prefix: str, found: str, other: str
) -> None:
    journal = backend.open()
    start(journal, found)
    start(journal, other)
    assert backend.reopen(journal).get_run(prefix).run_id == found


def test_runs_are_listed_newest_first(backend: Backend) -> None:
    journal = backend.open()
    for run_id in ("old", "middle", "new"):
        start(journal, run_id)
        next_tick()
    assert [r.run_id for r in backend.reopen(journal).list_runs()] == ["new", "middle", "old"]


def test_listing_runs_stops_at_the_limit(backend: Backend) -> None:
    journal = backend.open()
    for i in range(5):
        start(journal, f"r{i}")
        next_tick()
    assert [r.run_id for r in backend.reopen(journal).list_runs(limit=2)] == ["r4", "r3"]


# -- keeping it in bounds: pruning finished runs ---------------------------------------


def ended(journal: Journal, run_id: str, state: RunState = RunState.SUCCEEDED) -> None:
    """Start ``run_id``, record one finished call, and end it in ``state``."""
    lease = start(journal, run_id)
    journal.record(run_id, time.time(), EventKind.NODE_FINISHED, "a", "a", "succeeded", 1, 1)
    journal.end_run(lease, state)


def test_pruning_deletes_runs_that_finished_before_the_time_with_their_events(
    backend: Backend,
) -> None:
    journal = backend.open()
    ended(journal, "old", RunState.FAILED)
    next_tick()
    cut = time.time()
    next_tick()
    ended(journal, "new")
    report = journal.prune(before=cut)
    assert (report.run_ids, report.rows) == (["old"], 1)
    journal = backend.reopen(journal)
    with pytest.raises(RunNotFoundError):
        journal.get_run("old")
    assert list(journal.events("old")) == []
    assert journal.completed_calls("new") == {"a": 1}


def test_pruning_never_deletes_a_running_run(backend: Backend) -> None:
    journal = backend.open()
    start(journal, "running")
    next_tick()
    report = journal.prune(before=time.time())
    assert report.run_ids == []
    assert backend.reopen(journal).get_run("running").state is RunState.RUNNING


def test_pruning_never_deletes_a_failed_run_a_resume_has_just_taken(backend: Backend) -> None:
    journal = backend.open()
    ended(journal, "failed", RunState.FAILED)
    journal.acquire_lease("failed")  # its state still says failed, but it is held again
    next_tick()
    assert journal.prune(before=time.time()).run_ids == []
    assert backend.reopen(journal).get_run("failed").run_id == "failed"


def test_pruning_keeps_the_most_recently_started_runs(backend: Backend) -> None:
    journal = backend.open()
    for run_id in ("r0", "r1", "r2", "r3"):
        ended(journal, run_id)
        next_tick()
    assert journal.prune(keep=2).run_ids == ["r0", "r1"]
    assert [r.run_id for r in backend.reopen(journal).list_runs()] == ["r3", "r2"]


def test_a_dry_run_says_what_would_go_and_deletes_nothing(backend: Backend) -> None:
    journal = backend.open()
    ended(journal, "r0")
    report = journal.prune(keep=0, dry_run=True)
    assert (report.dry_run, report.run_ids, report.rows) == (True, ["r0"], 1)
    assert backend.reopen(journal).get_run("r0").state is RunState.SUCCEEDED
