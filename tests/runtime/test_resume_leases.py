"""Leases: a run is executed by one process at a time, and resume never runs it twice.

The journal conformance suite specifies the lease operations of every journal;
these tests check what the executor and ``resume_run`` make of them, and that
journals written before leases existed keep working.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from weft import RunInProgressError, RunState, WeftError, Workflow, compile_workflow, tool
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine import Lease
from weft.runtime.engine.lease import GRACE

ROOT = Path(__file__).resolve().parents[2]


def holding_workflow(started: asyncio.Event, release: asyncio.Event) -> Workflow:
    @tool
    async def hold() -> str:
        started.set()
        await release.wait()
        return "held"

    wf = Workflow("holding")
    wf.node("hold", hold)
    return wf


def stepping_workflow(calls: list[str]) -> Workflow:
    @tool
    def step(name: str) -> str:
        calls.append(name)
        return name

    wf = Workflow("steps")
    wf.node("first", step, with_={"name": "first"})
    wf.node("second", step, after=["first"], with_={"name": "second"})
    return wf


def a_pid_that_is_gone() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


# -- the executor holds, refreshes and gives back --------------------------------------


async def test_a_journaled_run_holds_its_lease_until_it_ends(tmp_path: Path) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    journal = Journal(tmp_path / "journal.db")
    run = asyncio.create_task(
        run_workflow(holding_workflow(started, release), journal=journal, run_id="r1")
    )
    await asyncio.wait_for(started.wait(), timeout=5)
    held = journal.lease("r1")
    assert held is not None and (held.pid, held.host) == (os.getpid(), socket.gethostname())

    release.set()
    assert (await run).state is RunState.SUCCEEDED
    assert journal.lease("r1") is None


async def test_the_lease_is_refreshed_while_a_node_runs_long(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db", lease_period=0.01)

    @tool
    async def outlast_a_heartbeat() -> None:
        first = journal.lease("r1")
        assert first is not None
        while (current := journal.lease("r1")) is None or current.heartbeat == first.heartbeat:
            await asyncio.sleep(0.005)

    wf = Workflow("long")
    wf.node("long", outlast_a_heartbeat)
    run = run_workflow(wf, journal=journal, run_id="r1")
    assert (await asyncio.wait_for(run, timeout=5)).state is RunState.SUCCEEDED


async def test_a_cancelled_run_gives_its_lease_back(tmp_path: Path) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    journal = Journal(tmp_path / "journal.db")
    run = asyncio.create_task(
        run_workflow(holding_workflow(started, release), journal=journal, run_id="r1")
    )
    await asyncio.wait_for(started.wait(), timeout=5)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert journal.lease("r1") is None
    assert journal.get_run("r1").state is RunState.CANCELLED


# -- resume refuses a live run, takes over a dead one ----------------------------------


async def test_resume_refuses_a_run_that_is_still_running(tmp_path: Path) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    wf = holding_workflow(started, release)
    path = tmp_path / "journal.db"
    run = asyncio.create_task(run_workflow(wf, journal=Journal(path), run_id="busy"))
    await asyncio.wait_for(started.wait(), timeout=5)

    expected = f"run busy is still running: pid {os.getpid()} on host {socket.gethostname()}"
    with pytest.raises(RunInProgressError, match=expected):
        await resume_run("busy", journal=Journal(path), definition=wf)

    release.set()
    result = await run
    assert result.state is RunState.SUCCEEDED
    assert result.nodes["hold"].attempts == 1


async def test_resume_takes_over_a_run_whose_process_died_and_says_so(tmp_path: Path) -> None:
    calls: list[str] = []
    wf = stepping_workflow(calls)
    path = tmp_path / "journal.db"
    graph_hash = compile_workflow(wf).graph_hash
    # A process starts the run, then dies without ending it.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from weft.runtime import Journal; "
            "Journal(sys.argv[1]).start_run('orphan', 'steps', None, sys.argv[2], {})",
            str(path),
            graph_hash,
        ],
        check=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    dead = Journal(path).lease("orphan")
    assert dead is not None

    seen: list[Lease] = []
    result = await resume_run("orphan", journal=path, definition=wf, on_takeover=seen.append)
    assert result.state is RunState.SUCCEEDED
    assert seen == [dead]
    assert seen[0].expiry_reason() == f"process {dead.pid} on {dead.host} is gone"


async def test_a_run_taken_over_while_frozen_stops_and_leaves_the_run_to_its_new_holder(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path, lease_period=0.01)
    new_holder: list[Lease] = []
    taken = threading.Event()

    def take_over_once_silent() -> None:
        """Another process's resume: it waits until the frozen run's lease expires."""
        other = Journal(path)
        try:
            deadline = time.monotonic() + 10
            while (held := other.lease("frozen")) is None or held.expiry_reason() is None:
                assert time.monotonic() < deadline
            new_holder.append(other.acquire_lease("frozen")[0])
        finally:
            other.close()
            taken.set()

    @tool
    async def freeze() -> None:
        """Blocks the event loop, as a process that is stopped or stuck would."""
        threading.Thread(target=take_over_once_silent).start()
        assert taken.wait(timeout=10)

    @tool
    async def then_wait() -> None:
        await asyncio.Event().wait()

    wf = Workflow("frozen")
    wf.node("freeze", freeze)
    wf.node("then", then_wait, after=["freeze"])
    run = asyncio.create_task(run_workflow(wf, journal=journal, run_id="frozen"))
    done, _ = await asyncio.wait({run}, timeout=10)
    if not done:
        run.cancel()
    assert done, "the old holder went on running beside the new one"
    with pytest.raises(RunInProgressError, match=r"run frozen was taken over by pid \d+ on host"):
        run.result()
    assert journal.lease("frozen") == new_holder[0]
    assert journal.get_run("frozen").state is RunState.RUNNING


# -- which leases have expired ---------------------------------------------------------


def test_a_lease_of_a_process_gone_from_this_host_has_expired_at_once() -> None:
    mine = Lease.for_this_process("r1")
    gone = Lease(**{**mine.__dict__, "pid": a_pid_that_is_gone()})
    assert mine.expiry_reason() is None
    assert gone.expiry_reason() == f"process {gone.pid} on {gone.host} is gone"


def test_a_pid_from_another_host_is_not_probed_only_its_heartbeat_counts() -> None:
    mine = Lease.for_this_process("r1", period=5.0)
    elsewhere = Lease(
        **{**mine.__dict__, "pid": a_pid_that_is_gone(), "host": "b", "scope": "b|pid:[1]"}
    )
    assert elsewhere.expiry_reason() is None
    later = elsewhere.heartbeat + 5.0 * GRACE + 1
    assert (
        elsewhere.expiry_reason(now=later) == f"no heartbeat from pid {elsewhere.pid} on b for 16 s"
    )


# -- journals written before leases ----------------------------------------------------

#: The journal schema before leases (schema version 0), as weft 0.1 wrote it.
SCHEMA_BEFORE_LEASES = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, source TEXT, graph_hash TEXT NOT NULL,
    inputs TEXT NOT NULL, state TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL,
    outputs TEXT
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL,
    node TEXT, key TEXT, state TEXT, attempt INTEGER, body TEXT
);
CREATE INDEX events_by_run ON events (run_id, seq);
"""


def journal_before_leases(path: Path, graph_hash: str) -> None:
    """A journal an older weft left: one run left running, its first node finished."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_BEFORE_LEASES)
    db.execute(
        "INSERT INTO runs VALUES ('old', 'steps', NULL, ?, '{}', 'running', 1.0, NULL, NULL)",
        (graph_hash,),
    )
    db.execute(
        "INSERT INTO events (run_id, at, kind, node, key, state, attempt, body) VALUES"
        " ('old', 2.0, 'node_finished', 'first', 'first', 'succeeded', 1, '{\"output\":\"first\"}')"
    )
    db.commit()
    db.close()


async def test_a_journal_from_before_leases_is_upgraded_and_its_runs_resume(
    tmp_path: Path,
) -> None:
    calls: list[str] = []
    wf = stepping_workflow(calls)
    path = tmp_path / "journal.db"
    journal_before_leases(path, compile_workflow(wf).graph_hash)

    journal = Journal(path)
    assert journal.get_run("old").state is RunState.RUNNING
    assert journal.lease("old") is None
    result = await resume_run("old", journal=journal, definition=wf)
    assert result.state is RunState.SUCCEEDED
    assert calls == ["second"]
    journal.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (1,)


def test_a_journal_from_a_newer_weft_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(WeftError, match=f"journal {path} has schema version 99"):
        Journal(path)
