"""Files weft cannot use: one line naming the file, exit status 2, never a traceback.

"Unwritable" is made with a regular file where a folder must be, which no
user (root included) can write through; "corrupt" is a file of random bytes
where a SQLite database must be.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli

TOOLS = '''
import weft

@weft.tool
def echo(value: object = None) -> object:
    return value

@weft.tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()
'''


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    module = f"storage_tools_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: tiny
            actions:
              echo: {{python: "{module}:echo"}}
            nodes:
              a:
                action: echo
                with: {{value: 1}}
            """
        )
    )
    return path


@pytest.fixture
def in_the_way(tmp_path: Path) -> Path:
    """A regular file: any path under it cannot be created."""
    path = tmp_path / "in-the-way"
    path.write_text("not a folder")
    return path


def corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(8192))
    return path


def weft(home: Path, *args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env={"WEFT_HOME": str(home)})


def assert_one_line_error(result: Result, *pieces: str) -> None:
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    line = lines[-1]  # after a note, if any (weft ask says which planner it would use)
    assert line.startswith("error: ")
    assert all(earlier.startswith("note: ") for earlier in lines[:-1]), lines
    for piece in pieces:
        assert piece in line, f"{piece!r} not in {line!r}"


def a_traced_run(home: Path, workflow: Path) -> None:
    result = weft(home, "run", workflow)
    assert result.exit_code == 0, result.output


# -- paths that cannot be written ---------------------------------------------------


def test_an_unwritable_journal_path(tmp_path: Path, workflow: Path, in_the_way: Path) -> None:
    target = in_the_way / "journal.db"
    result = weft(tmp_path, "run", workflow, "--journal", target)
    assert_one_line_error(result, f"cannot use the journal {target}", "in-the-way", "--journal")


def test_an_unwritable_weft_home(workflow: Path, in_the_way: Path) -> None:
    home = in_the_way / "home"
    result = weft(home, "run", workflow)
    assert_one_line_error(result, f"the journal {home / 'journal.db'}", "WEFT_HOME")


def test_an_unwritable_weft_home_for_traces(
    tmp_path: Path, workflow: Path, in_the_way: Path
) -> None:
    home = in_the_way / "home"
    result = weft(home, "run", workflow, "--journal", tmp_path / "journal.db")
    assert_one_line_error(result, f"cannot use the trace store {home / 'traces.db'}", "WEFT_HOME")


def test_an_unwritable_weft_home_for_ask(tmp_path: Path, workflow: Path, in_the_way: Path) -> None:
    agents = next(tmp_path.glob("storage_tools_*.py"))
    result = weft(in_the_way / "home", "ask", "Research owls.", "--agents", f"{agents}:research")
    assert_one_line_error(result, "cannot use the journal", "in-the-way")


@pytest.mark.parametrize("command", ["export", "view"])
def test_an_unwritable_output_file(
    tmp_path: Path, workflow: Path, in_the_way: Path, command: str
) -> None:
    a_traced_run(tmp_path, workflow)
    target = in_the_way / "out.txt"
    result = weft(tmp_path, "trace", command, "last", "-o", target)
    assert_one_line_error(result, str(target), "in-the-way", "-o FILE")


# -- databases that are not databases -----------------------------------------------


def test_a_corrupt_journal_for_run(tmp_path: Path, workflow: Path) -> None:
    journal = corrupt(tmp_path / "journal.db")
    result = weft(tmp_path, "run", workflow)
    assert_one_line_error(result, f"the journal {journal} is not a weft database")


@pytest.mark.parametrize("args", [("runs",), ("resume", "abc123")])
def test_a_corrupt_journal_for_runs_and_resume(tmp_path: Path, args: tuple[str, ...]) -> None:
    journal = corrupt(tmp_path / "journal.db")
    result = weft(tmp_path, *args)
    assert_one_line_error(result, f"the journal {journal} is not a weft database")


def test_a_corrupt_journal_for_ask(tmp_path: Path, workflow: Path) -> None:
    journal = corrupt(tmp_path / "journal.db")
    agents = next(tmp_path.glob("storage_tools_*.py"))
    result = weft(tmp_path, "ask", "Research owls.", "--agents", f"{agents}:research")
    assert_one_line_error(result, f"the journal {journal} is not a weft database")


def test_a_corrupt_trace_store_for_run(tmp_path: Path, workflow: Path) -> None:
    store = corrupt(tmp_path / "traces.db")
    result = weft(tmp_path, "run", workflow)
    assert_one_line_error(result, f"the trace store {store} is not a weft database")


@pytest.mark.parametrize("args", [("ls",), ("show", "last"), ("export", "last")])
def test_a_corrupt_trace_store_for_the_trace_commands(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    store = corrupt(tmp_path / "traces.db")
    result = weft(tmp_path, "trace", *args)
    assert_one_line_error(result, f"the trace store {store} is not a weft database", "--store")


def test_a_real_process_with_a_corrupt_journal_prints_one_line(
    tmp_path: Path, workflow: Path
) -> None:
    corrupt(tmp_path / "journal.db")
    process = subprocess.run(
        [sys.executable, "-m", "weft", "run", str(workflow)],
        cwd=tmp_path,
        env={**os.environ, "WEFT_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2, process.stderr
    [line] = process.stderr.strip().splitlines()
    assert line.startswith("error: the journal ") and "is not a weft database" in line
