"""`weft resume last` finishes the newest run in the journal, as `weft trace show last`
shows the newest trace; what is refused for an id is refused for `last` alike."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli

TOOLS = """
from pathlib import Path
from weft import tool

@tool
def gate(tag: str) -> str:
    if not Path("open").exists():
        raise RuntimeError("the gate is shut")
    return tag
"""

WORKFLOW = """
name: gated
inputs: {tag: str}
actions:
  gate: {python: "last_gate_tools:gate"}
nodes:
  pass: {action: gate, with: {tag: "${inputs.tag}"}}
outputs:
  tag: "${pass}"
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "last_gate_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(WORKFLOW))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("last_gate_tools", None)


def weft(folder: Path, *argv: str) -> Result:
    return CliRunner().invoke(cli, list(argv), env={"WEFT_HOME": str(folder / "home")})


def test_resume_last_finishes_the_newest_run(folder: Path) -> None:
    older = weft(folder, "run", "wf.yaml", "-i", "tag=older", "--run-id", "older-run")
    newer = weft(folder, "run", "wf.yaml", "-i", "tag=newer", "--run-id", "newer-run")
    assert (older.exit_code, newer.exit_code) == (1, 1), older.output + newer.output
    (folder / "open").write_text("")

    resumed = weft(folder, "resume", "last", "--json")

    assert resumed.exit_code == 0, resumed.output
    assert '"run_id": "newer-run"' in resumed.stdout
    assert '"tag": "newer"' in resumed.stdout


def test_resume_last_of_a_run_that_succeeded_is_refused_as_for_its_id(folder: Path) -> None:
    (folder / "open").write_text("")
    assert weft(folder, "run", "wf.yaml", "-i", "tag=done", "--run-id", "done-run").exit_code == 0

    again = weft(folder, "resume", "last")

    assert again.exit_code == 2
    assert again.stderr.strip() == "error: run done-run already succeeded; nothing to resume"


def test_resume_last_without_runs_says_the_journal_has_none(folder: Path) -> None:
    result = weft(folder, "resume", "last")

    assert result.exit_code == 2
    journal = folder / "home" / "journal.db"
    assert result.stderr.strip() == f"error: no runs in journal {journal} yet"
