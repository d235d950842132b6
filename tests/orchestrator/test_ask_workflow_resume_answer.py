"""``weft resume`` of a ``weft ask --workflow`` run ends as the ask did: with its answer.

A workflow ask is resumed as a run of its file, and a resume its budget
stopped printed a run's summary, not what the ask printed: the outputs of
the nodes that finished (what the ask paid for) and the flag that gives it
more. Now the resume prints the ask's answer form: stopped again, every node
finished so far (before the resume too) under its name, in the workflow's
order; finished, the answer alone on stdout, as a planned ask's resume does.
Each agent reports 60 tokens, as an LLM agent does, without a model, and
works until cancelled while a ``hold-NAME`` file is in ``$WEFT_HOME`` (the
step still working when the budget stops the ask).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

from weft.cli import cli
from weft.runtime.engine.journal import Journal

AGENTS = """
import asyncio
import os
from pathlib import Path

from weft import ActionKind, ActionResult, ActionSpec, Usage


class Metered:
    def __init__(self, name):
        self.spec = ActionSpec(
            name=name,
            kind=ActionKind.AGENT,
            description=name,
            input_schema={"type": "object", "properties": {"task": {"type": "string"}}},
        )

    async def invoke(self, call, ctx):
        if (Path(os.environ["WEFT_HOME"]) / f"hold-{self.spec.name}").exists():
            await asyncio.Event().wait()  # until the budget cancels the run
        usage = Usage(llm_calls=1, prompt_tokens=60)
        return ActionResult.success(call.call_id, self.spec.name + " done", usage=usage)


draft, review, edit, publish = (Metered(n) for n in ("draft", "review", "edit", "publish"))
"""

WORKFLOW = """
name: metered
inputs:
  task: {type: string}
actions:
  draft: {python: "wf_resume_answer_agents:draft"}
  review: {python: "wf_resume_answer_agents:review"}
  edit: {python: "wf_resume_answer_agents:edit"}
  publish: {python: "wf_resume_answer_agents:publish"}
nodes:
  draft: {action: draft, with: {task: "${inputs.task}"}}
  review: {action: review, after: [draft], with: {task: "${draft}"}}
  edit: {action: edit, after: [review], with: {task: "${review}"}}
  publish: {action: publish, after: [edit], with: {task: "${edit}"}}
outputs:
  result: "${publish}"
"""


def weft(folder: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        [*args, "--journal", str(folder / "journal.db")],
        env={"WEFT_HOME": str(folder), "WEFT_BROKER": None},
        catch_exceptions=False,
    )


def stopped_ask(folder: Path) -> str:
    """A four-node workflow ask its 100 tokens stop after two nodes: its run id."""
    (folder / "wf_resume_answer_agents.py").write_text(AGENTS)
    (folder / "metered.yaml").write_text(textwrap.dedent(WORKFLOW))
    for name in ("edit", "publish"):
        (folder / f"hold-{name}").write_text("")
    flow = str(folder / "metered.yaml")
    asked = weft(folder, "ask", "Write it", "--workflow", flow, "--max-tokens", "100")
    assert asked.exit_code == 1, asked.output
    assert asked.stdout == "## draft\n\ndraft done\n\n## review\n\nreview done\n"
    journal = Journal(folder / "journal.db")
    try:
        return journal.list_runs(1)[0].run_id
    finally:
        journal.close()


def test_a_resume_its_budget_stops_prints_what_the_ask_finished_so_far(tmp_path: Path) -> None:
    run_id = stopped_ask(tmp_path)
    (tmp_path / "hold-edit").unlink()
    resumed = weft(tmp_path, "resume", run_id, "--max-tokens", "150")
    assert resumed.exit_code == 1, resumed.output
    assert resumed.stdout == (
        "## draft\n\ndraft done\n\n## review\n\nreview done\n\n## edit\n\nedit done\n"
    )
    assert "error: token budget exceeded: 180 > 150" in resumed.stderr
    assert "note: the budget stopped the ask after 3 of 4 node(s) of workflow 'metered'" in (
        resumed.stderr
    )
    assert f"resume with: weft resume {run_id}" in resumed.stderr
    assert "--max-tokens N" in resumed.stderr
    assert f"run {run_id}: cancelled" in resumed.stderr  # the ask's summary line


def test_a_resume_that_finishes_prints_the_asks_answer(tmp_path: Path) -> None:
    run_id = stopped_ask(tmp_path)
    for name in ("edit", "publish"):
        (tmp_path / f"hold-{name}").unlink()
    done = weft(tmp_path, "resume", run_id, "--max-tokens", "1000")
    assert done.exit_code == 0, done.output
    assert done.stdout == "publish done\n"
    assert f"run {run_id}: succeeded" in done.stderr
    assert "240 tokens" in done.stderr  # the whole ask's usage, before the resume too


def test_a_resume_its_budget_stops_gives_the_asks_json(tmp_path: Path) -> None:
    run_id = stopped_ask(tmp_path)
    (tmp_path / "hold-edit").unlink()
    resumed = weft(tmp_path, "resume", run_id, "--max-tokens", "150", "--json")
    assert resumed.exit_code == 1, resumed.output
    answer = json.loads(resumed.stdout)
    assert answer["state"] == "cancelled"
    assert answer["results"] == {
        "draft": "draft done",
        "review": "review done",
        "edit": "edit done",
    }
