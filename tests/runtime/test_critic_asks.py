"""A critic on an edge that asks a person: a human review between two nodes.

Before, the critic's question failed the edge's target (``ConditionError``)
and the run failed. Now the target waits (``needs_input``), the question is
journaled under the review's own key (``draft->publish:critic``), and
resuming with the answer asks the critic again: approved, the artifact goes
on; rejected, the edge delivers nothing (or, with rounds, the source
revises and the critic is asked about the revision, under ``~1:critic``).
On both engines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from weft import ActionContext, RunState, WeftError, Workflow, tool
from weft.cli import cli
from weft.protocols import NodeState
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine.answers import waiting_questions
from weft.runtime.engine.to_langgraph import resume_langgraph, run_langgraph

ENGINES = {"weft": (run_workflow, resume_run), "langgraph": (run_langgraph, resume_langgraph)}


def reviewed(published: list[str], rounds: int = 0) -> Workflow:
    @tool
    def draft(topic: str, feedback: str = "") -> str:
        return f"a post about {topic}" + (" (revised)" if feedback else "")

    @tool
    def editor(artifact: Any, source: str, target: str, ctx: ActionContext) -> dict[str, Any]:
        verdict = ctx.ask(f"Publish '{artifact}'?", choices=["yes", "no"])
        return {"approved": verdict == "yes", "feedback": "make it better"}

    @tool
    async def publish(text: str) -> str:
        published.append(text)
        return f"published {text}"

    wf = Workflow("reviewed")
    wf.node("draft", draft, with_={"topic": "cats"})
    wf.node("publish", publish, with_={"text": "${draft}"})
    wf.edge("draft", "publish", critic=editor, max_rounds=rounds)
    return wf


@pytest.mark.parametrize("engine", sorted(ENGINES))
async def test_a_critic_that_asks_holds_the_edge_until_a_person_approves(
    tmp_path: Path, engine: str
) -> None:
    run, resume = ENGINES[engine]
    published: list[str] = []
    wf = reviewed(published)
    journal = Journal(tmp_path / "journal.db")

    first = await run(wf, journal=journal, tracer=False)
    assert first.state is RunState.NEEDS_INPUT
    waits = first.nodes["publish"]
    assert waits.state is NodeState.NEEDS_INPUT and waits.error is not None
    assert "critic on draft -> publish waits for an answer" in waits.error.message
    assert published == []
    [question] = waiting_questions(journal, first.run_id).values()
    assert (question.key, question.node) == ("draft->publish:critic", "publish")
    assert (question.question, question.choices) == ("Publish 'a post about cats'?", ["yes", "no"])

    with pytest.raises(WeftError, match="'later' is not one of the choices"):
        await resume(first.run_id, journal=journal, definition=wf, answers={"publish": "later"})

    done = await resume(
        first.run_id, journal=journal, definition=wf, answers={"publish": "yes"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert published == ["a post about cats"]
    assert waiting_questions(journal, first.run_id) == {}


async def test_a_rejection_delivers_nothing_and_with_rounds_the_revision_is_asked_about(
    tmp_path: Path,
) -> None:
    published: list[str] = []
    journal = Journal(tmp_path / "journal.db")
    no_rounds = reviewed(published)
    first = await run_workflow(no_rounds, journal=journal, tracer=False)
    done = await resume_run(
        first.run_id, journal=journal, definition=no_rounds, answers={"publish": "no"}
    )
    assert done.state is RunState.SUCCEEDED
    assert done.nodes["publish"].state is NodeState.SKIPPED
    assert published == []

    one_round = reviewed(published, rounds=1)
    first = await run_workflow(one_round, journal=journal, tracer=False)
    second = await resume_run(
        first.run_id, journal=journal, definition=one_round, answers={"publish": "no"}
    )
    assert second.state is RunState.NEEDS_INPUT
    [question] = waiting_questions(journal, first.run_id).values()
    assert question.key == "draft->publish~1:critic"
    assert question.question == "Publish 'a post about cats (revised)'?"
    done = await resume_run(
        first.run_id,
        journal=journal,
        definition=one_round,
        answers={"draft->publish~1:critic": "yes"},
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert published == ["a post about cats (revised)"]


WORKFLOW = """
name: reviewed
actions:
  draft: {python: "review_tools:draft"}
  editor: {python: "review_tools:editor"}
  publish: {python: "review_tools:publish"}
nodes:
  draft:
    action: draft
    with: {topic: cats}
  publish:
    action: publish
    with: {text: "${draft}"}
    after:
      - {node: draft, critic: editor}
"""

TOOLS = """
from typing import Any

from weft import ActionContext, tool


@tool
def draft(topic: str) -> str:
    return f"a post about {topic}"


@tool
async def editor(artifact: Any, source: str, target: str, ctx: ActionContext) -> dict:
    return {"approved": ctx.ask(f"Publish '{artifact}'?", choices=["yes", "no"]) == "yes"}


@tool
def publish(text: str) -> str:
    return f"published {text}"
"""


def test_weft_run_shows_the_critic_s_question_and_the_command_that_answers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "review_tools.py").write_text(TOOLS)
    (tmp_path / "reviewed.yaml").write_text(WORKFLOW)
    env = {"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None}
    ran = CliRunner().invoke(cli, ["run", "reviewed.yaml"], env=env)
    assert ran.exit_code == 1, ran.output
    run_id = next(line.split()[1] for line in ran.stdout.splitlines() if line.startswith("run "))
    assert "? draft->publish:critic: Publish 'a post about cats'?  (one of: yes, no)" in ran.stdout
    assert f"answer with: weft resume {run_id} --answer 'draft->publish:critic=yes'" in ran.stdout
    done = CliRunner().invoke(
        cli, ["resume", run_id, "--answer", "draft->publish:critic=yes", "--json"], env=env
    )
    assert done.exit_code == 0, done.output
    assert '"publish": "published a post about cats"' in done.stdout
