"""``weft run --engine langgraph`` prints the summary weft's engine prints.

Each node's line has its duration, where it ran (``local``), how many
attempts it took and, after ``weft resume``, ``(from journal)`` for what the
journal already held: the graph's final state keeps none of these, so the
outcomes the node calls made are read instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli._app import cli

TOOLS = """
from pathlib import Path

from weft import ActionContext, tool


@tool
def fetch(topic: str, log: str) -> str:
    tries = Path(log)
    tries.write_text(tries.read_text() + "x" if tries.exists() else "x")
    if len(tries.read_text()) < 2:
        raise ConnectionError("the source hung up")
    return f"notes on {topic}"


@tool
def approve(notes: str, ctx: ActionContext) -> str:
    return f"{notes}: {ctx.ask('Publish?', choices=['yes', 'no'])}"
"""

WORKFLOW = """
name: flaky
inputs:
  topic: {type: string}
  log: {type: string}
actions:
  fetch: {python: "summary_tools:fetch"}
  approve: {python: "summary_tools:approve"}
nodes:
  fetch:
    action: fetch
    with: {topic: "${inputs.topic}", log: "${inputs.log}"}
    retry: {max_attempts: 3, initial_delay: 0.001, max_delay: 0.001}
  approve: {action: approve, after: [fetch], with: {notes: "${fetch}"}}
outputs:
  result: ${approve}
"""


@pytest.fixture(autouse=True)
def _workflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WEFT_BROKER", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "summary_tools.py").write_text(TOOLS)
    (tmp_path / "flaky.yaml").write_text(WORKFLOW)


def weft(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def node_lines(output: str) -> list[str]:
    """The summary's node lines, each duration made ``N ms``, to compare engines by."""
    lines = [line for line in output.splitlines() if re.match(r"  \S \S+ ", line)]
    nodes = [line for line in lines if not re.match(r"  \? \S+: ", line)]  # not the questions
    # the duration column is right-aligned: a slow machine's 1000 ms shifts it by one
    return [re.sub(r" +\d+ ms", "  N ms", line) for line in nodes]


def run_and_resume(tmp_path: Path, engine: str) -> tuple[list[str], list[str]]:
    log = tmp_path / f"{engine}.log"
    ran = weft("run", "flaky.yaml", "--engine", engine, "-i", "topic=tides", "-i", f"log={log}")
    assert ran.exit_code == 1, ran.output
    run_id = re.search(r"^run (\w+)", ran.stdout, re.MULTILINE)
    assert run_id is not None, ran.stdout
    done = weft("resume", run_id.group(1), "--engine", engine, "--answer", "approve=yes")
    assert done.exit_code == 0, done.output
    return node_lines(ran.stdout), node_lines(done.stdout)


def test_langgraph_node_lines_have_duration_place_and_attempts(tmp_path: Path) -> None:
    first, _ = run_and_resume(tmp_path, "langgraph")
    fetch = next(line for line in first if "fetch" in line)
    assert re.search(r"N ms  local \(2 attempts\)$", fetch), fetch


def test_langgraph_says_what_a_resume_read_from_the_journal(tmp_path: Path) -> None:
    _, resumed = run_and_resume(tmp_path, "langgraph")
    fetch = next(line for line in resumed if "fetch" in line)
    assert fetch.endswith("(from journal)"), fetch


def test_both_engines_print_the_same_node_lines(tmp_path: Path) -> None:
    assert run_and_resume(tmp_path, "langgraph") == run_and_resume(tmp_path, "weft")
