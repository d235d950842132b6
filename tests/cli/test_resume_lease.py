"""`weft resume` against a run that another `weft run` process is executing.

Two real processes share one journal: the first runs a workflow whose `slow`
node waits for a file; the second resumes the same run. While the first is
alive the resume is refused; once it is killed with SIGKILL, the resume takes
the run over and finishes it. Every call appends the node's name to a log
file, the side effect that shows which nodes ran, and how often.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from weft.runtime import Journal

ROOT = Path(__file__).resolve().parents[2]

TOOLS = """
import asyncio, os
from weft import tool

@tool
async def step(name: str) -> str:
    with open(os.environ["WEFT_TEST_LOG"], "a") as log:
        log.write(name + "\\n")
    while name == "slow" and not os.path.exists(os.environ["WEFT_TEST_RELEASE"]):
        await asyncio.sleep(0.02)
    return name
"""

WORKFLOW = """
name: leased
actions:
  step: {python: "leased_tools:step"}
nodes:
  a: {action: step, with: {name: a}}
  b: {action: step, after: [a], with: {name: b}}
  slow: {action: step, after: [b], with: {name: slow}}
  d: {action: step, after: [slow], with: {name: d}}
"""


class Scene:
    """A folder with the workflow, its tools, a journal and the call log."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "leased_tools.py").write_text(textwrap.dedent(TOOLS))
        (folder / "flow.yaml").write_text(textwrap.dedent(WORKFLOW))
        self.journal = str(folder / "journal.db")
        self.log = folder / "calls.log"
        self.release = folder / "release"
        self.env = {
            **os.environ,
            "WEFT_TEST_LOG": str(self.log),
            "WEFT_TEST_RELEASE": str(self.release),
            "PYTHONPATH": str(ROOT),
        }

    def start_run(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "weft", "run", "flow.yaml", "--journal", self.journal],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def resume(self, run_id: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "weft", "resume", run_id, "--journal", self.journal],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def calls(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def wait_for_slow_node(self, proc: subprocess.Popen[str]) -> str:
        """Poll the journal until the run is recorded with a and b finished and the slow
        node in flight; return the run's id."""
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never reached its slow node"
            if Path(self.journal).exists() and "slow" in self.calls():
                reader = Journal(self.journal)
                try:
                    runs = reader.list_runs()
                    if runs and {"a", "b"} <= set(reader.completed_calls(runs[0].run_id)):
                        return runs[0].run_id
                finally:
                    reader.close()
            time.sleep(0.02)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    made = Scene(tmp_path)
    yield made
    made.release.touch()


def test_resume_of_a_run_still_running_exits_2_naming_run_host_and_pid(scene: Scene) -> None:
    first = scene.start_run()
    try:
        run_id = scene.wait_for_slow_node(first)
        refused = scene.resume(run_id)
    finally:
        first.kill()
        first.wait(timeout=10)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    [line] = refused.stderr.splitlines()
    assert re.fullmatch(
        rf"error: run {run_id} is still running: pid {first.pid} on host "
        rf"{re.escape(socket.gethostname())} \(heartbeat \d+ s ago\); "
        r"stop that process or wait for it to end",
        line,
    ), line
    assert refused.stdout == ""
    assert scene.calls() == ["a", "b", "slow"]


def test_resume_takes_over_a_killed_run_without_repeating_finished_nodes(scene: Scene) -> None:
    first = scene.start_run()
    run_id = scene.wait_for_slow_node(first)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    scene.release.touch()
    resumed = scene.resume(run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert resumed.stderr.splitlines() == [
        f"taking over run {run_id}: process {first.pid} on {socket.gethostname()} is gone"
    ]
    calls = scene.calls()
    assert {name: calls.count(name) for name in calls} == {"a": 1, "b": 1, "slow": 2, "d": 1}
