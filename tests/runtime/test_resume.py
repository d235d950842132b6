"""The run journal and resume: finished calls are never repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from weft import ResumeMismatchError, RunState, Workflow, tool
from weft.runtime import Journal, resume_run, run_workflow

ROOT = Path(__file__).resolve().parents[2]


async def test_resume_serves_finished_calls_from_the_journal(tmp_path: Path) -> None:
    calls: list[str] = []
    healthy = False

    @tool
    def step(name: str) -> str:
        calls.append(name)
        if name == "third" and not healthy:
            raise RuntimeError("dependency down")
        return name

    wf = Workflow("resumable")
    wf.node("first", step, with_={"name": "first"})
    wf.node("second", step, after=["first"], with_={"name": "second"})
    wf.node("third", step, after=["second"], with_={"name": "third"})
    wf.node("fourth", step, after=["third"], with_={"name": "fourth"})
    journal = Journal(tmp_path / "journal.db")

    failed = await run_workflow(wf, journal=journal)
    assert failed.state is RunState.FAILED
    assert calls == ["first", "second", "third"]

    healthy = True
    resumed = await resume_run(failed.run_id, journal=journal, definition=wf)
    assert resumed.state is RunState.SUCCEEDED
    assert resumed.run_id == failed.run_id
    assert calls == ["first", "second", "third", "third", "fourth"]
    assert resumed.nodes["first"].cached and resumed.nodes["second"].cached
    assert journal.get_run(failed.run_id).state is RunState.SUCCEEDED


async def test_resume_refuses_a_workflow_that_changed(tmp_path: Path) -> None:
    @tool
    def fail() -> None:
        raise RuntimeError("stop here")

    wf = Workflow("changing")
    wf.node("fail", fail)
    journal = Journal(tmp_path / "journal.db")
    result = await run_workflow(wf, journal=journal)

    changed = Workflow("changing")
    changed.node("fail", fail)
    changed.node("extra", fail)
    with pytest.raises(ResumeMismatchError, match="changed since run"):
        await resume_run(result.run_id, journal=journal, definition=changed)


async def test_journal_records_every_node_state_change(tmp_path: Path) -> None:
    @tool
    def ok(n: int) -> int:
        return n

    wf = Workflow("journaled")
    wf.node("a", ok, with_={"n": 1})
    wf.node("b", ok, after=["a"], with_={"n": "${a}"})
    journal = Journal(tmp_path / "journal.db")
    result = await run_workflow(wf, journal=journal)
    kinds = [(e.kind.value, e.key) for e in journal.events(result.run_id)]
    assert kinds == [
        ("run_started", None),
        ("node_started", "a"),
        ("node_finished", "a"),
        ("node_started", "b"),
        ("node_finished", "b"),
        ("run_finished", None),
    ]
    assert journal.completed_calls(result.run_id) == {"a": 1, "b": 1}


TOOLS = """
import asyncio, os
from weft import tool

@tool
async def step(name: str) -> str:
    with open(os.environ["WEFT_TEST_LOG"], "a") as log:
        log.write(name + "\\n")
    if name == "slow" and not os.path.exists(os.environ["WEFT_TEST_RELEASE"]):
        await asyncio.sleep(3600)
    return name
"""

WORKFLOW = """
name: killable
actions:
  step: {python: "killable_tools:step"}
nodes:
  a: {action: step, with: {name: a}}
  b: {action: step, after: [a], with: {name: b}}
  side: {action: step, after: [a], with: {name: side}}
  slow: {action: step, after: [b], with: {name: slow}}
  d: {action: step, after: [slow, side], with: {name: d}}
"""


def _finished_and_in_flight(journal: str, log: Path, finished: set[str], running: str) -> bool:
    if not Path(journal).exists() or not log.exists():
        return False
    reader = Journal(journal)
    try:
        done = set(reader.completed_calls("killed-run"))
    finally:
        reader.close()
    return finished <= done and running in log.read_text().split()


def test_a_killed_run_resumes_without_repeating_finished_nodes(tmp_path: Path) -> None:
    (tmp_path / "killable_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(WORKFLOW))
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "WEFT_TEST_LOG": str(log),
        "WEFT_TEST_RELEASE": str(tmp_path / "release"),
        "PYTHONPATH": str(ROOT),
    }
    journal = str(tmp_path / "journal.db")
    base = [sys.executable, "-m", "weft"]
    proc = subprocess.Popen(
        [*base, "run", "flow.yaml", "--journal", journal, "--run-id", "killed-run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Wait (polling the other process's journal) until a, b and side are
    # committed as finished and the slow node is in flight, then kill -9.
    deadline = time.monotonic() + 30
    while not _finished_and_in_flight(journal, log, {"a", "b", "side"}, "slow"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached the slow node"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    (tmp_path / "release").touch()
    resumed = subprocess.run(
        [*base, "resume", "killed-run", "--journal", journal],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    calls = log.read_text().split()
    assert sorted(calls) == sorted(["a", "b", "side", "slow", "slow", "d"])
    assert calls.count("slow") == 2  # it was in flight when killed, so it runs again
