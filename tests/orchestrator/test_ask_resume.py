"""An ask that stopped is finished by ``weft resume``, as a ``weft run`` run is.

The ask journals its plan, routes and options with the run; ``weft resume``
builds the same workflow from them (the same agents, no new plan), serves the
subtasks that finished from the journal and makes the answer. A question an
agent asked (``ctx.ask``) is answered with ``--answer``; a failure is resumed
once its cause is gone. Offline: the rule planner and the word-overlap router.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft import ActionContext, RunState, WeftError, tool
from weft.agents.a2a_action import A2aAction
from weft.cli import cli
from weft.protocols import EventKind
from weft.runtime import resume_run
from weft.runtime.engine.journal import Journal
from weft.runtime.interop.a2a_server import A2aHttpServer
from weft.runtime.orchestrator import Orchestrator

DESK = '''
from weft import ActionContext, tool

@tool
def approve_refund(task: str, ctx: ActionContext) -> str:
    """Approves refunds once a person confirms."""
    return "refund " + str(ctx.ask("Approve the refund?", choices=["yes", "no"]))

agents = [approve_refund]
'''

PRESS = '''
from pathlib import Path
from weft import tool

HERE = Path(__file__).parent

@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    with open(HERE / "calls.log", "a") as f:
        f.write("research\\n")
    return "facts on " + topic.lower()

@tool
def publish(text: str) -> str:
    """Publish the findings in the newsletter."""
    if not (HERE / "press.ok").exists():
        raise RuntimeError("the press is offline")
    return "published: " + text

agents = [research, publish]
'''


def weft(folder: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        [*args, "--journal", str(folder / "journal.db")],
        env={"WEFT_HOME": str(folder), "WEFT_BROKER": None},
        catch_exceptions=False,
    )


def asked(folder: Path, task: str, agents: Path) -> tuple[str, Result]:
    """Ask ``task`` offline; the run id and the result."""
    result = weft(
        folder, "ask", task, "--agents", str(agents), "--no-memory", "--router", "lexical"
    )
    journal = Journal(folder / "journal.db")
    run_id = journal.list_runs(1)[0].run_id
    journal.close()
    return run_id, result


def test_an_ask_stopped_by_a_question_is_finished_by_resume_with_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "desk.py").write_text(DESK)
    monkeypatch.chdir(tmp_path)
    run_id, stopped = asked(tmp_path, "Approve the refund for order 7", Path("desk.py"))
    assert stopped.exit_code == 1, stopped.output
    assert "subtask 's1' asks 'Approve the refund?' (one of: yes, no)" in stopped.stderr
    assert f"answer with: weft resume {run_id} --journal " in stopped.stderr
    assert stopped.stderr.rstrip().endswith("--answer s1=yes")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the agents file was given relative to the ask's folder
    done = weft(tmp_path, "resume", run_id[:8], "--answer", "s1=yes")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "refund yes"
    assert f"run {run_id}: succeeded · 1 subtask(s)" in done.stderr


def test_a_failed_ask_is_resumed_once_its_cause_is_fixed_without_repeating_what_finished(
    tmp_path: Path,
) -> None:
    (tmp_path / "press.py").write_text(PRESS)
    task = "Research solar power. Then publish the findings in the newsletter."
    run_id, failed = asked(tmp_path, task, tmp_path / "press.py")
    assert failed.exit_code == 1, failed.output
    assert "the press is offline" in failed.stderr
    assert f"resume with: weft resume {run_id} --journal " in failed.stderr

    (tmp_path / "press.ok").touch()
    done = weft(tmp_path, "resume", run_id, "--json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)
    assert answer["state"] == "succeeded"
    assert answer["routes"] == {"s1": "research", "s2": "publish"}
    assert "published: facts on research solar power" in answer["answer"]
    assert (tmp_path / "calls.log").read_text() == "research\n"  # served from the journal


def test_resume_refuses_an_ask_whose_routed_agent_is_gone(tmp_path: Path) -> None:
    (tmp_path / "press.py").write_text(PRESS)
    task = "Research solar power. Then publish the findings in the newsletter."
    run_id, _ = asked(tmp_path, task, tmp_path / "press.py")
    (tmp_path / "press.py").write_text(
        PRESS.replace("agents = [research, publish]", "agents = [research]")
    )
    refused = weft(tmp_path, "resume", run_id)
    assert refused.exit_code == 2, refused.output
    assert "routed subtasks to publish, which the agents given now lack" in refused.stderr
    assert "Traceback" not in refused.output


def test_an_ask_is_answered_and_finished_on_langgraph_as_a_workflow_run_is(
    tmp_path: Path,
) -> None:
    pytest.importorskip("langgraph")
    (tmp_path / "press.py").write_text(PRESS)
    task = "Research solar power. Then publish the findings in the newsletter."
    run_id, _ = asked(tmp_path, task, tmp_path / "press.py")
    (tmp_path / "press.ok").touch()
    done = weft(tmp_path, "resume", run_id, "--engine", "langgraph", "--json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)
    assert answer["state"] == "succeeded"
    assert "published: facts on research solar power" in answer["answer"]
    assert (tmp_path / "calls.log").read_text() == "research\n"  # served from the journal
    journal = Journal(tmp_path / "journal.db")
    try:
        (resumed,) = [e for e in journal.events(run_id) if e.kind is EventKind.RUN_RESUMED]
    finally:
        journal.close()
    assert resumed.data["engine"] == "langgraph"


async def test_orchestrator_resume_answers_a_question_on_langgraph(tmp_path: Path) -> None:
    pytest.importorskip("langgraph")
    journal = Journal(tmp_path / "journal.db")
    try:
        stopped = await Orchestrator([approve], journal=journal).ask("Approve order 7")
        again = Orchestrator([approve], journal=journal)
        done = await again.resume(stopped.run_id, answers={"s1": "yes"}, engine="langgraph")
    finally:
        journal.close()
    assert done.ok, done.error
    assert done.answer == "approved: yes"


@tool
def approve(task: str, ctx: ActionContext) -> str:
    """Approves refunds once a person confirms."""
    return "approved: " + str(ctx.ask(textwrap.shorten(task, 40), choices=["yes", "no"]))


async def test_resume_run_on_an_ask_points_to_the_orchestrator(tmp_path: Path) -> None:
    """resume_run has no plan to run, and says where an ask is resumed instead."""
    journal = Journal(tmp_path / "journal.db")
    try:
        stopped = await Orchestrator([approve], journal=journal).ask("Approve order 7")
        with pytest.raises(WeftError, match=f"run {stopped.run_id} is an ask, made from a plan"):
            await resume_run(stopped.run_id, journal=journal, answers={"s1": "yes"})
    finally:
        journal.close()


async def test_orchestrator_resume_answers_the_question_and_makes_the_answer(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "journal.db")
    try:
        orchestrator = Orchestrator([approve], journal=journal)
        stopped = await orchestrator.ask("Approve the refund for order 7")
        assert stopped.state is RunState.NEEDS_INPUT
        assert stopped.questions == {
            "s1": {"question": "Approve the refund for order 7", "choices": ["yes", "no"]}
        }
        again = Orchestrator([approve], journal=journal)  # a new process, as weft resume is
        done = await again.resume(stopped.run_id, answers={"s1": "yes"})
    finally:
        journal.close()
    assert done.ok, done.error
    assert done.answer == "approved: yes"
    assert done.routes == {"s1": "approve"} and done.plan == stopped.plan


def test_a_workflow_ask_that_asks_is_answered_as_a_run_of_its_file(tmp_path: Path) -> None:
    (tmp_path / "ask_resume_desk.py").write_text(DESK)  # found next to the workflow
    (tmp_path / "desk.yaml").write_text(
        textwrap.dedent(
            """
            name: desk
            inputs:
              task: {type: string}
            actions:
              approve: {python: "ask_resume_desk:approve_refund"}
            nodes:
              approve: {action: approve, with: {task: "${inputs.task}"}}
            outputs:
              result: "${approve}"
            """
        )
    )
    stopped = weft(tmp_path, "ask", "Approve it", "--workflow", str(tmp_path / "desk.yaml"))
    assert stopped.exit_code == 1, stopped.output
    assert "asks 'Approve the refund?' (one of: yes, no)" in stopped.stderr
    assert stopped.stderr.rstrip().endswith("--answer approve=yes")
    run_id = stopped.stderr.split("answer with: weft resume ")[1].split()[0]
    done = weft(tmp_path, "resume", run_id, "--answer", "approve=yes", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"result": "refund yes"}


@tool
def book(text: str, ctx: ActionContext) -> str:
    """Books trips once a person says when."""
    return f"booked for {ctx.ask('When?')}"


async def test_an_a2a_agent_that_wants_input_is_answered_when_the_ask_resumes(
    tmp_path: Path,
) -> None:
    """An A2A agent's input-required stops the ask needs_input with its question; the
    answer reaches the agent when the ask resumes, and the ask makes its answer."""
    journal = Journal(tmp_path / "journal.db")
    async with A2aHttpServer([book]) as server:
        action = A2aAction(server.url, name="book")
        try:
            stopped = await Orchestrator([action], journal=journal).ask("Book a trip to Oslo")
            assert stopped.state is RunState.NEEDS_INPUT
            assert stopped.questions == {"s1": {"question": "When?", "choices": None}}
            again = Orchestrator([action], journal=journal)
            done = await again.resume(stopped.run_id, answers={"s1": "Friday"})
        finally:
            await action.aclose()
            journal.close()
    assert done.ok, done.error
    assert done.answer == {"text": "booked for Friday"}
