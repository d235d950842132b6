"""``weft resume --engine weft|langgraph`` finishes a run on the engine asked for.

A run started with ``weft run --engine langgraph`` fails on purpose (a file
says the printer is broken); the file is removed and ``weft resume`` finishes
the run. Which engine did so is read from the journal's ``run resumed``
event; the call log shows that no finished call ran again.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.protocols import EventKind
from weft.runtime.engine.journal import Journal

pytest.importorskip("langgraph")

TOOLS = """
from pathlib import Path

from weft import tool


@tool
def step(name: str, log: str, broken: str = "") -> str:
    with open(log, "a") as f:
        f.write(name + "\\n")
    if broken and Path(broken).exists():
        raise RuntimeError("the printer is out of paper")
    return name
"""

WORKFLOW = """
name: printing
inputs:
  log: {type: string}
  broken: {type: string, default: ""}
actions:
  step: {python: "printing_tools:step"}
nodes:
  write: {action: step, with: {name: write, log: "${inputs.log}"}}
  check: {action: step, after: [write], with: {name: check, log: "${inputs.log}"}}
  print:
    action: step
    after: [check]
    with: {name: print, log: "${inputs.log}", broken: "${inputs.broken}"}
"""


def weft(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None}
    )


def failed_langgraph_run(tmp_path: Path) -> tuple[str, Path]:
    (tmp_path / "printing_tools.py").write_text(textwrap.dedent(TOOLS))
    flow = tmp_path / "printing.yaml"
    flow.write_text(textwrap.dedent(WORKFLOW))
    log, broken = tmp_path / "calls.log", tmp_path / "broken"
    broken.touch()
    ran = weft(
        tmp_path,
        "run", "--engine", "langgraph", "--json", str(flow),
        "-i", f"log={log}", "-i", f"broken={broken}",
    )  # fmt: skip
    assert ran.exit_code == 1, ran.output
    run = json.loads(ran.stdout)
    assert run["state"] == "failed" and "out of paper" in run["nodes"]["print"]["error"]["message"]
    broken.unlink()
    return run["run_id"], log


def resumed_on(tmp_path: Path, run_id: str) -> str:
    """The engine the journal's ``run resumed`` event names (weft's engine names none)."""
    journal = Journal(tmp_path / "journal.db")
    try:
        (event,) = [e for e in journal.events(run_id) if e.kind is EventKind.RUN_RESUMED]
    finally:
        journal.close()
    return str(event.data.get("engine", "weft"))


@pytest.fixture(autouse=True)
def _importable_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize("engine", ["weft", "langgraph"])
def test_resume_finishes_a_failed_langgraph_run_on_the_engine_asked_for(
    tmp_path: Path, engine: str
) -> None:
    run_id, log = failed_langgraph_run(tmp_path)
    done = weft(tmp_path, "resume", "--engine", engine, "--json", run_id)
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["state"] == "succeeded"
    assert result["outputs"] == {"print": "print"}
    assert resumed_on(tmp_path, run_id) == engine
    assert Counter(log.read_text().split()) == {"write": 1, "check": 1, "print": 2}


def test_resume_without_engine_finishes_on_weft_engine(tmp_path: Path) -> None:
    run_id, _ = failed_langgraph_run(tmp_path)
    done = weft(tmp_path, "resume", run_id)
    assert done.exit_code == 0, done.output
    assert "succeeded" in done.stdout
    assert resumed_on(tmp_path, run_id) == "weft"


def test_resume_refuses_an_unknown_engine(tmp_path: Path) -> None:
    refused = weft(tmp_path, "resume", "--engine", "pregel", "0123")
    assert refused.exit_code == 2
    assert "'pregel' is not one of 'weft', 'langgraph'" in refused.output
