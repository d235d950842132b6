"""A process killed with SIGKILL right after a node finished, then resumed: what runs again.

``first`` appends a line to a file each time it runs (its effect); the node
after it kills its own process with SIGKILL the first time, before doing
anything. The run is then resumed in this process and the effects counted.

- durable: ``first`` finished before ``second`` started, so its finish was on
  disk; the resume serves it from the journal and it ran once.
- batched: its finish was still in the journal's buffer (a flush interval of
  an hour makes that certain; with the default 2 ms it is what happens when
  the kill comes within those milliseconds), so the resume runs it again.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from weft.runtime import resume_run

FLOW = """\
import os
import signal
from pathlib import Path

from weft import Workflow, tool

HERE = Path(os.environ["CRASH_DIR"])


@tool
def first(x: int) -> int:
    with open(HERE / "first.log", "a") as effects:
        effects.write("ran\\n")
    return x + 1


@tool
def second(x: int) -> int:
    marker = HERE / "crashed"
    if not marker.exists():
        marker.write_text("once")
        os.kill(os.getpid(), signal.SIGKILL)
    return x * 2


workflow = Workflow("crash", journal=os.environ["CRASH_MODE"])
workflow.input("x", default=1)
workflow.node("first", first, with_={"x": "${inputs.x}"})
workflow.node("second", second, with_={"x": "${first}"}, after=["first"])
"""

DRIVER = """\
import sys

from weft import run_sync
from weft.runtime import Journal

journal = Journal(sys.argv[1], flush_interval=float(sys.argv[2]))
run_sync(sys.argv[3], journal=journal, run_id="crashed-run", record=False)
"""


def crash_then_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, flush_interval: float
) -> int:
    """Run the flow until its process is killed, resume it here; how often ``first`` ran."""
    (tmp_path / "flow.py").write_text(FLOW)
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER))
    journal = tmp_path / "journal.db"
    monkeypatch.setenv("CRASH_DIR", str(tmp_path))  # for the killed process and the resume
    monkeypatch.setenv("CRASH_MODE", mode)
    killed = subprocess.run(
        [sys.executable, "driver.py", str(journal), str(flush_interval), "flow.py"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    result = asyncio.run(resume_run("crashed-run", journal=journal, record=False))
    assert result.ok, result.error
    assert result.outputs == {"second": 4}
    return len((tmp_path / "first.log").read_text().splitlines())


@pytest.mark.parametrize("flush_interval", [3600.0, 0.002], ids=["batch-1h", "batch-2ms"])
def test_a_durable_run_killed_after_a_node_finished_does_not_run_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flush_interval: float
) -> None:
    assert crash_then_resume(tmp_path, monkeypatch, "durable", flush_interval) == 1


def test_a_batched_run_killed_inside_its_flush_window_runs_the_finished_node_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert crash_then_resume(tmp_path, monkeypatch, "batched", 3600.0) == 2


YAML = """\
name: crash
journal: durable
python_path: ["."]
actions:
  first: {python: "flow:first"}
  second: {python: "flow:second"}
inputs:
  x: 1
nodes:
  first:
    action: first
    with: {x: "${inputs.x}"}
  second:
    action: second
    after: [first]
    with: {x: "${first}"}
"""


def test_journal_durable_in_yaml_holds_through_weft_run_and_weft_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    (tmp_path / "flow.yaml").write_text(YAML)
    monkeypatch.setenv("CRASH_DIR", str(tmp_path))
    monkeypatch.setenv("CRASH_MODE", "batched")  # the YAML file's setting is what counts
    weft = [sys.executable, "-m", "weft"]
    journal = ["--journal", str(tmp_path / "journal.db")]
    killed = subprocess.run(
        [*weft, "run", "flow.yaml", "--run-id", "yaml-run", *journal],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    resumed = subprocess.run(
        [*weft, "resume", "yaml-run", "--json", *journal],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert '"cached": true' in resumed.stdout.decode()
    assert len((tmp_path / "first.log").read_text().splitlines()) == 1
