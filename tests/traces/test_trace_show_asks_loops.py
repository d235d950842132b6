"""``weft trace show`` on a run with a review loop that then stops to ask a person.

A node waiting for an answer reads as waiting (``?``), with its question and
the command that answers it, never as a failure; a loop's passes carry the
pass number their node keys have (``review#1`` is review's second pass); and
the trace of the resumed run, whose journal-read nodes take no time, shows
at once instead of looping forever on the critical path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli._app import cli

TOOLS = """
from weft import ActionContext, tool


@tool
def write(topic: str, review: dict | None = None) -> str:
    return review["text"] + "!" if review else f"draft on {topic}"


@tool
def review(draft: str) -> dict:
    return {"approved": draft.count("!") >= 2, "text": draft}


@tool
def approve(r: dict, ctx: ActionContext) -> str:
    return "published" if ctx.ask(f"Publish {r['text']}?", choices=["yes", "no"]) else "kept"
"""

WORKFLOW = """
name: loopy
inputs:
  topic: {type: string}
actions:
  write: {python: "loop_tools:write"}
  review: {python: "loop_tools:review"}
  approve: {python: "loop_tools:approve"}
nodes:
  write:
    action: write
    after:
      - {node: review, when: "not output.approved", max_iterations: 3}
    with: {topic: "${inputs.topic}", review: "${review}"}
  review:
    action: review
    after: write
    with: {draft: "${write}"}
  approve:
    action: approve
    after: [review]
    with: {r: "${review}"}
outputs:
  final: ${approve}
"""


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WEFT_BROKER", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "loop_tools.py").write_text(TOOLS)
    (tmp_path / "loopy.yaml").write_text(WORKFLOW)


def weft(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def stopped_run() -> str:
    ran = weft("run", "loopy.yaml", "-i", "topic=tides", "--json")
    assert ran.exit_code == 1, ran.output
    assert json.loads(ran.stdout)["state"] == "needs_input"
    return str(json.loads(ran.stdout)["run_id"])


def node_line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f" {name}  node" in line)


def test_a_node_asking_a_person_reads_as_waiting_with_its_question_and_the_answer_command() -> None:
    run_id = stopped_run()
    shown = weft("trace", "show", run_id)
    assert shown.exit_code == 0, shown.output
    assert "✗" not in shown.stdout
    assert "? waiting for an answer" in node_line(shown.stdout, "approve")
    assert "? Publish draft on tides!!?  (one of: yes, no)" in shown.stdout
    assert f"answer with: weft resume {run_id} --answer approve=yes" in shown.stdout


def test_each_loop_pass_shows_its_key_and_pass_number() -> None:
    shown = weft("trace", "show", stopped_run())
    assert "pass 1" in node_line(shown.stdout, "review")
    assert "pass 2" in node_line(shown.stdout, "review#1")
    assert "pass 3" in node_line(shown.stdout, "write#2")
    assert "pass" not in node_line(shown.stdout, "approve")


def test_a_resumed_loop_run_shows_and_its_answered_question_no_longer_waits() -> None:
    run_id = stopped_run()
    done = weft("resume", run_id, "--answer", "approve=yes")
    assert done.exit_code == 0, done.output
    shown = weft("trace", "show", run_id)  # looped forever on the critical path before
    assert shown.exit_code == 0, shown.output
    assert "waiting for an answer" not in shown.stdout
    assert "answer with" not in shown.stdout
    assert "? asked a person" in shown.stdout
    assert "★ review#2  node  pass 3" in shown.stdout
