"""``weft ask --workflow FILE`` keeps its budget across ``weft resume``, as a planned ask does.

A workflow ask is resumed as a run of its file, which used to run with no
budget at all: stopping an ask and resuming it was a way around its
``--max-tokens``. Its budget is now journaled with the run; what the ask
spent before counts, a resume that goes over is cancelled, one that would
start over is refused naming the flag, and a flag given to the resume
replaces the ask's. The agents report tokens as an LLM agent does, without
a model; the reviewer fails while a ``broken`` file is in ``$WEFT_HOME``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

from weft.cli import cli
from weft.protocols import RunState
from weft.runtime.engine.journal import Journal

AGENTS = '''
import asyncio
import os
from pathlib import Path

from weft import ActionKind, ActionResult, ActionSpec, Usage


class Metered:
    """Spends 60 tokens a call; fails while ``broken`` exists (the reviewer only)."""

    def __init__(self, name, can_break=False):
        self.spec = ActionSpec(
            name=name,
            kind=ActionKind.AGENT,
            description=name,
            input_schema={"type": "object", "properties": {"task": {"type": "string"}}},
        )
        self.can_break = can_break

    async def invoke(self, call, ctx):
        # $WEFT_HOME, not this file's folder: the module is imported once per process
        home = Path(os.environ["WEFT_HOME"])
        if self.can_break and (home / "broken").exists():
            return ActionResult.failure(call.call_id, "Unavailable", "the reviewer is down")
        if self.can_break and (home / "hang").exists():
            await asyncio.Event().wait()  # until the run is cancelled
        spent = Usage(llm_calls=1, prompt_tokens=60)
        return ActionResult.success(call.call_id, self.spec.name + " done", usage=spent)


draft = Metered("draft")
review = Metered("review", can_break=True)
'''

WORKFLOW = """
name: metered
inputs:
  task: {type: string}
actions:
  draft: {python: "ask_budget_agents:draft"}
  review: {python: "ask_budget_agents:review"}
nodes:
  draft: {action: draft, with: {task: "${inputs.task}"}}
  review: {action: review, after: [draft], with: {task: "${draft}"}}
outputs:
  result: "${review}"
"""


def weft(folder: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        [*args, "--journal", str(folder / "journal.db")],
        env={"WEFT_HOME": str(folder), "WEFT_BROKER": None},
        catch_exceptions=False,
    )


def stopped_ask(folder: Path, *budget: str) -> str:
    """A workflow ask whose reviewer fails once the draft (60 tokens) is done: its run id."""
    (folder / "ask_budget_agents.py").write_text(AGENTS)
    (folder / "metered.yaml").write_text(textwrap.dedent(WORKFLOW))
    (folder / "broken").write_text("")
    asked = weft(folder, "ask", "Write it", "--workflow", str(folder / "metered.yaml"), *budget)
    assert asked.exit_code == 1, asked.output
    assert "resume with: weft resume" in asked.stderr
    (folder / "broken").unlink()
    journal = Journal(folder / "journal.db")
    try:
        return journal.list_runs(1)[0].run_id
    finally:
        journal.close()


def state_of(folder: Path, run_id: str) -> RunState:
    journal = Journal(folder / "journal.db")
    try:
        return journal.get_run(run_id).state
    finally:
        journal.close()


def test_a_resumed_workflow_ask_is_held_to_its_token_budget(tmp_path: Path) -> None:
    """60 tokens before the stop and 60 after pass the ask's 100, though neither alone does."""
    run_id = stopped_ask(tmp_path, "--max-tokens", "100")
    resumed = weft(tmp_path, "resume", run_id)
    assert resumed.exit_code == 1, resumed.output
    assert "token budget exceeded: 120 > 100" in resumed.output
    assert state_of(tmp_path, run_id) is RunState.CANCELLED
    # nothing left of it: refused before anything runs, naming the flag
    again = weft(tmp_path, "resume", run_id)
    assert again.exit_code == 2, again.output
    assert again.stderr.strip() == (
        f"error: run {run_id} already spent 120 tokens, over its budget of 100 "
        "(max_tokens): give weft resume a larger --max-tokens"
    )
    # a larger budget given to the resume replaces the ask's
    done = weft(tmp_path, "resume", run_id, "--max-tokens", "1000")
    assert done.exit_code == 0, done.output
    assert "review done" in done.stdout
    assert state_of(tmp_path, run_id) is RunState.SUCCEEDED


def test_a_resumed_workflow_ask_is_held_to_its_time_budget(tmp_path: Path) -> None:
    """The reviewer would hang for ever: the ask's time budget stops the resume."""
    run_id = stopped_ask(tmp_path, "--max-time", "0.5")
    (tmp_path / "hang").write_text("")
    resumed = weft(tmp_path, "resume", run_id)
    assert resumed.exit_code == 1, resumed.output
    assert "time budget exceeded: 0.5s" in resumed.output
    assert state_of(tmp_path, run_id) is RunState.CANCELLED


def test_a_workflow_ask_within_its_budget_resumes_as_before(tmp_path: Path) -> None:
    run_id = stopped_ask(tmp_path, "--max-tokens", "500")
    done = weft(tmp_path, "resume", run_id)
    assert done.exit_code == 0, done.output
    assert "review done" in done.stdout


def test_a_budget_flag_bounds_a_workflow_ask_asked_without_one(tmp_path: Path) -> None:
    """The flags are an ask's: given to the resume of a workflow ask, they hold."""
    run_id = stopped_ask(tmp_path)
    resumed = weft(tmp_path, "resume", run_id, "--max-tokens", "100")
    assert resumed.exit_code == 1, resumed.output
    assert "token budget exceeded: 120 > 100" in resumed.output


def test_a_plain_workflow_run_still_refuses_a_budget_flag(tmp_path: Path) -> None:
    (tmp_path / "ask_budget_agents.py").write_text(AGENTS)
    (tmp_path / "metered.yaml").write_text(textwrap.dedent(WORKFLOW))
    (tmp_path / "broken").write_text("")
    ran = weft(tmp_path, "run", str(tmp_path / "metered.yaml"), "-i", "task=Write it")
    assert ran.exit_code == 1, ran.output
    journal = Journal(tmp_path / "journal.db")
    run_id = journal.list_runs(1)[0].run_id
    journal.close()
    refused = weft(tmp_path, "resume", run_id, "--max-tokens", "100")
    assert refused.exit_code == 2
    assert "is a workflow run: --max-tokens bounds a resumed weft ask" in refused.stderr
