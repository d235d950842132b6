"""A team's literal settings checked by ``weft validate`` and before the run, not when it forms.

``selector: roundrobin``, a ``pools`` key that is no member, a negative
``turn_timeout`` or a cluster's subtasks that do not match its members used
to pass ``weft validate`` (the schema took them) and fail only when the team
node started, after the nodes before it had run. They are refused before any
node runs now, at their line, every one of them; ``{topic}`` where
``${inputs.topic}`` was likely meant is a warning.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli._app import cli
from weft.protocols import DefinitionError
from weft.protocols.argument_checks import argument_problems_of
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.engine.runner import run_workflow
from weft.runtime.teams import team_action

MEMBERS = """
from pathlib import Path
from typing import Any

CALLS = Path(__file__).with_name("calls.txt")


def _note(what: str) -> None:
    with CALLS.open("a") as calls:
        calls.write(what + "\\n")


def first(text: str) -> str:
    _note("first")
    return text


def alice(task: str, context: dict[str, Any]) -> Any:
    _note("alice " + task)
    return {"act": "conclude", "text": "done: " + task}


def bob(task: str, context: dict[str, Any]) -> Any:
    _note("bob")
    return "hi"
"""

HEAD = """name: checked
inputs:
  topic: {type: string, default: caching}
actions:
  team: {python: "weft.runtime.teams:team_action"}
  cluster: {python: "weft.runtime.teams:cluster_action"}
  first: {python: "validated_members:first"}
  alice: {python: "validated_members:alice"}
  bob: {python: "validated_members:bob"}
nodes:
  prepare:
    action: first
    with: {text: "${inputs.topic}"}
"""

BAD_TEAM = (
    HEAD
    + """  discuss:
    action: team
    after: prepare
    with:
      task: "plan ${prepare}"
      members: [alice, bob]
      selector: roundrobin
      pools: {carol: [bob]}
      turn_timeout: -1
"""
)


def _write(tmp_path: Path, workflow: str) -> tuple[Path, Path]:
    sys.modules.pop("validated_members", None)  # each test imports its own copy
    (tmp_path / "validated_members.py").write_text(textwrap.dedent(MEMBERS))
    (tmp_path / "wf.yaml").write_text(workflow)
    return tmp_path / "wf.yaml", tmp_path / "calls.txt"


def _line(workflow: str, text: str) -> int:
    return next(i for i, line in enumerate(workflow.splitlines(), 1) if line.strip() == text)


async def test_every_bad_team_setting_is_refused_at_its_line_before_any_node_runs(
    tmp_path: Path,
) -> None:
    flow, calls = _write(tmp_path, BAD_TEAM)
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(flow, journal=False)
    sys.modules.pop("validated_members", None)
    lines = str(caught.value).splitlines()
    expected = {
        "selector": (
            "selector: roundrobin",
            "unknown speaker rule 'roundrobin' (did you mean 'round_robin'?)",
        ),
        "pools": ("pools: {carol: [bob]}", "argument 'pools' names 'carol', not a member"),
        "turn_timeout": ("turn_timeout: -1", "turn_timeout must be a number of seconds > 0"),
    }
    for field, (written, message) in expected.items():
        located = [
            line
            for line in lines
            if f"{flow}:{_line(BAD_TEAM, written)}:" in line
            and f"node 'discuss', field 'with.{field}'" in line
        ]
        assert len(located) == 1 and message in located[0], (field, lines)
    assert not calls.exists()  # not even 'prepare', the node before the team, ran


def test_weft_validate_refuses_them_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    flow, _calls = _write(tmp_path, BAD_TEAM)
    shown = CliRunner().invoke(cli, ["validate", str(flow)])
    sys.modules.pop("validated_members", None)
    assert shown.exit_code == 2, shown.output
    assert "Traceback" not in shown.output
    assert "field 'with.selector'" in shown.output
    assert "(did you mean 'round_robin'?)" in shown.output
    assert "field 'with.pools'" in shown.output and "field 'with.turn_timeout'" in shown.output


def test_a_manager_named_without_llm_is_refused_with_the_form_meant(tmp_path: Path) -> None:
    workflow = BAD_TEAM.replace("selector: roundrobin", "selector: bob").replace(
        "      pools: {carol: [bob]}\n      turn_timeout: -1\n", ""
    )
    flow, _calls = _write(tmp_path, workflow)
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(flow)
    sys.modules.pop("validated_members", None)
    message = str(caught.value)
    assert f"{flow}:{_line(workflow, 'selector: bob')}:" in message, message
    assert "unknown speaker rule 'bob' (did you mean 'llm:bob'?)" in message


async def test_a_cluster_s_subtasks_and_members_that_disagree_are_refused_before_the_run(
    tmp_path: Path,
) -> None:
    workflow = (
        HEAD
        + """  refine:
    action: cluster
    after: prepare
    with: {task: "write", members: [alice, bob, alice], subtasks: [intro, body], rounds: 1}
"""
    )
    flow, calls = _write(tmp_path, workflow)
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(flow, journal=False)
    sys.modules.pop("validated_members", None)
    message = str(caught.value)
    assert "node 'refine', field 'with.subtasks'" in message, message
    assert "3 members but 2 subtasks" in message
    assert not calls.exists()


def test_settings_a_template_gives_are_left_to_the_node_and_the_rest_still_checked() -> None:
    """``${inputs...}`` is known only when the run starts; ``pools`` is checked against the
    members, so not while the members are a template."""
    found = argument_problems_of(
        team_action,
        {
            "task": "t",
            "members": "${inputs.members}",
            "pools": {"carol": ["bob"]},
            "selector": "${inputs.rule}",
            "max_turns": 3,
            "turn_timeout": 0,
        },
    )
    assert [(p.field, p.warning) for p in found] == [("turn_timeout", False)]


def test_good_settings_have_no_problem() -> None:
    arguments = {
        "task": "plan ${inputs.topic}",
        "members": ["alice", "bob"],
        "pools": {"bob": ["carol"]},
        "selector": "llm:moderator",
        "turn_timeout": 2.5,
    }
    assert argument_problems_of(team_action, arguments) == []


PLACEHOLDER = (
    HEAD
    + """  discuss:
    action: team
    after: prepare
    with:
      task: "Discuss {topic} after ${prepare}; reply as {\\"act\\": \\"conclude\\"}"
      members: [alice, bob]
      context: {notes: "see {prepare.summary}"}
"""
)


async def test_a_placeholder_without_dollar_is_a_located_warning_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flow, calls = _write(tmp_path, PLACEHOLDER)
    with caplog.at_level(logging.WARNING, logger="weft.validate"):
        prepared = compile_workflow(flow)
    task_line = next(
        i for i, line in enumerate(PLACEHOLDER.splitlines(), 1) if 'task: "Discuss' in line
    )
    assert len(prepared.warnings) == 2, prepared.warnings
    task, notes = prepared.warnings
    assert task.startswith(f"{flow}:{task_line}:"), task
    assert "node 'discuss', field 'with.task'" in task
    assert "'{topic}' is sent to the members as it is written" in task
    assert "did you mean '${inputs.topic}'?" in task
    assert "field 'with.context.notes'" in notes and "did you mean '${prepare.summary}'?" in notes
    assert [r.getMessage() for r in caplog.records] == [f"warning: {w}" for w in prepared.warnings]
    result = await run_workflow(prepared, journal=False)  # a warning stops nothing
    sys.modules.pop("validated_members", None)
    assert result.ok, result
    assert "Team goal: Discuss {topic} after caching" in calls.read_text()


def test_weft_validate_says_how_many_warnings_and_prints_them_on_stderr(tmp_path: Path) -> None:
    flow, _calls = _write(tmp_path, PLACEHOLDER)
    shown = subprocess.run(
        [sys.executable, "-m", "weft", "validate", str(flow)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "ok: workflow 'checked' with 2 nodes, 1 edges, 0 loops, 2 warnings (above)" in (
        shown.stdout
    )
    warned = [line for line in shown.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 2 and "field 'with.task'" in warned[0], shown.stderr


def test_braces_that_are_no_placeholder_are_not_warned_about() -> None:
    for task in (
        "plan ${inputs.topic}",
        'answer as {"act": "speak"}',
        "a set {1, 2} and {{escaped}}",
        "",
    ):
        assert argument_problems_of(team_action, {"task": task, "members": ["a"]}) == [], task


def test_a_placeholder_in_a_member_s_instructions_is_a_warning_at_its_line(
    tmp_path: Path,
) -> None:
    workflow = (
        HEAD.replace(
            '  bob: {python: "validated_members:bob"}\n',
            '  bob: {python: "validated_members:bob"}\n'
            '  critic:\n    llm: {instructions: "You review posts on {topic}."}\n',
        )
        + """  discuss:
    action: team
    with: {task: "plan ${inputs.topic}", members: [alice, critic]}
"""
    )
    flow, _calls = _write(tmp_path, workflow)
    prepared = compile_workflow(flow)
    sys.modules.pop("validated_members", None)
    assert len(prepared.warnings) == 1, prepared.warnings
    (warning,) = prepared.warnings
    line = next(i for i, text in enumerate(workflow.splitlines(), 1) if "{topic}." in text)
    assert warning.startswith(f"{flow}:{line}:"), warning
    assert "field 'actions.critic.llm.instructions'" in warning
    assert "instructions are not filled in" in warning and "${inputs.topic}" in warning
