"""Teams and clusters in a YAML workflow, members named like any action; traced per message."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli._app import cli
from weft.protocols import DefinitionError
from weft.runtime.engine.runner import run_workflow
from weft.runtime.tracing.spans import MemoryTracer
from weft.runtime.tracing.store import TraceStore

MEMBERS = """
from typing import Any


def alice(task: str, context: dict[str, Any]) -> Any:
    if context["mode"] == "task":
        return "outline: intro, body, end"
    if context["turn"] == 1:
        return {"act": "assign", "text": "bob, outline please",
                "tasks": [{"id": "o", "to": "bob", "task": "outline", "mode": "sync"}]}
    return {"act": "conclude", "text": "we have " + context["history"][-2].get("text", "")}


def bob(task: str, context: dict[str, Any]) -> Any:
    if context["mode"] == "task":
        return "outline: intro, body, end"
    return {"act": "speak", "text": "outline is in"}


def writer(task: str, context: dict[str, Any]) -> Any:
    if context["mode"] == "draft":
        return context["subtask"].upper()
    if context["mode"] == "refine":
        return context["own"] + "!"
    return " + ".join(o["output"] for o in context["outputs"])
"""

WORKFLOW = """
name: team-and-cluster
inputs:
  topic: {type: string, default: caching}
actions:
  team: {python: "weft.runtime.teams:team_action"}
  cluster: {python: "weft.runtime.teams:cluster_action"}
  alice: {python: "yaml_members:alice"}
  bob: {python: "yaml_members:bob"}
  writer: {python: "yaml_members:writer"}
nodes:
  discuss:
    action: team
    with: {task: "plan a post on ${inputs.topic}", members: [alice, bob], max_turns: 6}
  refine:
    action: cluster
    after: discuss
    with:
      task: "write the post"
      members: [writer, writer]
      subtasks: ["intro", "body"]
      rounds: 2
outputs:
  plan: ${discuss.conclusion}
  post: ${refine.synthesis}
"""


async def test_a_yaml_workflow_runs_a_team_and_a_cluster(tmp_path: Path) -> None:
    (tmp_path / "yaml_members.py").write_text(textwrap.dedent(MEMBERS))
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    tracer = MemoryTracer()
    result = await run_workflow(tmp_path / "wf.yaml", tracer=tracer, journal=False)
    assert result.ok, result
    assert result.outputs["post"] == "INTRO!! + BODY!!"
    assert result.outputs["plan"].startswith("we have ")
    team_spans = [s for s in tracer.spans if s.kind == "team"]
    discuss = [s for s in team_spans if s.node == "discuss"]
    assert [s.attributes["weft.team.message"] for s in discuss] == [
        "team_up",
        "assign_sync",
        "task_result",
        "speak",
        "conclusion",
    ]
    # members called through the run's registry are call spans of the node
    member_calls = [s for s in tracer.spans if s.kind == "call" and s.node == "discuss"]
    assert {s.name for s in member_calls} == {"alice", "bob"}
    refinements = [s for s in team_spans if s.attributes["weft.team.message"] == "refinement"]
    assert len(refinements) == 2 * 2


async def test_a_misspelled_member_is_refused_when_the_workflow_compiles(tmp_path: Path) -> None:
    """The team action declares the names in its ``with:``; ``weft validate`` and the run's
    compile step refuse an unknown one at its line, before anything runs."""
    (tmp_path / "yaml_members.py").write_text(textwrap.dedent(MEMBERS))
    flow = tmp_path / "wf.yaml"
    flow.write_text(WORKFLOW.replace("members: [alice, bob]", "members: [alice, bbo]"))
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(flow, journal=False)
    message = str(caught.value)
    line = next(i for i, text in enumerate(flow.read_text().splitlines(), 1) if "bbo" in text)
    assert message.startswith(f"{flow}:{line}:"), message
    assert "field 'with.members[1]': 'bbo' is no action of this workflow" in message
    assert "(did you mean 'bob'?)" in message
    shown = CliRunner().invoke(cli, ["validate", str(flow)])
    assert shown.exit_code == 2 and "'bbo' is no action" in shown.output


async def test_a_pool_for_someone_who_is_not_a_member_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "yaml_members.py").write_text(textwrap.dedent(MEMBERS))
    workflow = WORKFLOW.replace("max_turns: 6}", "max_turns: 6, pools: {carol: [bob]}}")
    (tmp_path / "wf.yaml").write_text(workflow)
    with pytest.raises(DefinitionError) as caught:  # before the run, not when the team forms
        await run_workflow(tmp_path / "wf.yaml", journal=False)
    message = str(caught.value)
    assert "node 'discuss', field 'with.pools'" in message, message
    assert "'carol', not a member" in message, message


async def test_trace_show_prints_the_team_state_machine(tmp_path: Path) -> None:
    (tmp_path / "yaml_members.py").write_text(textwrap.dedent(MEMBERS))
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    store_path = tmp_path / "traces.db"
    store = TraceStore(store_path, writer="inline")
    result = await run_workflow(tmp_path / "wf.yaml", tracer=store, journal=False)
    store.close()
    assert result.ok
    shown = CliRunner().invoke(cli, ["trace", "show", result.run_id, "--store", str(store_path)])
    assert shown.exit_code == 0, shown.output
    assert "turn 1 alice: assign_sync · bob, outline please" in shown.output
    assert "⇢ DISCUSSION → EXECUTION  chosen by round_robin" in shown.output
    assert "⇢ EXECUTION → DISCUSSION" in shown.output
    assert "⇢ DISCUSSION → CONCLUSION" in shown.output


async def test_the_html_view_puts_a_conversation_in_one_lane_with_its_states(
    tmp_path: Path,
) -> None:
    from weft.runtime.tracing.layout import view_model

    (tmp_path / "yaml_members.py").write_text(textwrap.dedent(MEMBERS))
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    tracer = MemoryTracer()
    result = await run_workflow(tmp_path / "wf.yaml", tracer=tracer, journal=False)
    assert result.ok
    model = view_model(None, tracer.spans)
    team = [s for s in model["spans"] if s["kind"] == "team"]
    assert len(team) == len([s for s in tracer.spans if s.kind == "team"])
    assert {s["lane"] for s in team} == {"team discuss", "team refine"}
    assert [s["attributes"]["weft.team.state"] for s in team if s["lane"] == "team discuss"] == [
        "DISCUSSION",
        "EXECUTION",
        "EXECUTION",
        "DISCUSSION",
        "CONCLUSION",
    ]


COUNTED = """
from pathlib import Path
from typing import Any

CALLS = Path(__file__).with_name("calls.txt")


def writer(task: str, context: dict[str, Any]) -> Any:
    with CALLS.open("a") as calls:
        calls.write(context["mode"] + "\\n")
    return context.get("subtask") or "done"


def speaker(task: str, context: dict[str, Any]) -> Any:
    with CALLS.open("a") as calls:
        calls.write(context["mode"] + "\\n")
    return {"act": "conclude", "text": "done"}
"""

UNKNOWN_SYNTHESIZER = """
name: bad-synthesizer
actions:
  fed: {python: "weft.runtime.teams:cluster_action"}
  writer: {python: "counted_members:writer"}
  editor: {python: "counted_members:writer"}
nodes:
  refine:
    action: fed
    with:
      task: "write the post"
      members: [writer, writer]
      rounds: 3
      synthesizer: edtor
"""


def _counted(tmp_path: Path, workflow: str) -> tuple[Path, Path]:
    """The workflow file, and the file each member call appends its mode to."""
    sys.modules.pop("counted_members", None)  # each test imports its own copy
    (tmp_path / "counted_members.py").write_text(textwrap.dedent(COUNTED))
    (tmp_path / "wf.yaml").write_text(workflow)
    return tmp_path / "wf.yaml", tmp_path / "calls.txt"


def _one_setting(name: str, setting: str, action: str = "weft.runtime.teams:team_action") -> str:
    """A workflow whose team node ``discuss`` (``action``) has ``setting`` as one more line of
    its ``with:`` (members: the counted ``speaker``)."""
    return f"""
name: {name}
actions:
  team: {{python: "{action}"}}
  speaker: {{python: "counted_members:speaker"}}
nodes:
  discuss:
    action: team
    with:
      task: decide
      members: [speaker]
      {setting}
"""


async def _refused_before_the_run(tmp_path: Path, workflow: str, setting: str) -> tuple[str, str]:
    """The error a run of ``workflow`` raises before any member is called, and the
    ``FILE:LINE:`` of the ``with:`` line ``setting``."""
    flow, calls = _counted(tmp_path, workflow)
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(flow, journal=False)
    sys.modules.pop("counted_members", None)
    assert not calls.exists()
    line = workflow.splitlines().index(f"      {setting}") + 1
    return str(caught.value), f"{flow}:{line}:"


async def test_an_unknown_synthesizer_in_yaml_fails_at_its_line_before_any_draft(
    tmp_path: Path,
) -> None:
    flow, calls = _counted(tmp_path, UNKNOWN_SYNTHESIZER)
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(flow, journal=False)
    sys.modules.pop("counted_members", None)
    message = str(caught.value)
    line = UNKNOWN_SYNTHESIZER.splitlines().index("      synthesizer: edtor") + 1
    assert message.startswith(f"{flow}:{line}:"), message
    assert "node 'refine', field 'with.synthesizer'" in message
    assert "'edtor' is no action of this workflow (did you mean 'editor'?)" in message
    assert not calls.exists()  # no member was called


def test_the_cli_prints_the_unknown_synthesizer_without_a_traceback(tmp_path: Path) -> None:
    flow, calls = _counted(tmp_path, UNKNOWN_SYNTHESIZER)
    shown = CliRunner().invoke(cli, ["run", str(flow)], env={"WEFT_HOME": str(tmp_path)})
    sys.modules.pop("counted_members", None)
    assert shown.exit_code == 2
    assert "'edtor' is no action" in shown.output and "Traceback" not in shown.output
    assert not calls.exists()


async def test_an_unknown_pool_replacement_fails_the_team_before_anyone_speaks(
    tmp_path: Path,
) -> None:
    workflow = """
name: bad-pool
actions:
  team: {python: "weft.runtime.teams:team_action"}
  speaker: {python: "counted_members:speaker"}
nodes:
  discuss:
    action: team
    with: {task: "decide", members: [speaker], pools: {speaker: [spaeker]}}
"""
    flow, calls = _counted(tmp_path, workflow)
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(flow, journal=False)
    sys.modules.pop("counted_members", None)
    message = str(caught.value)
    assert "field 'with.pools.speaker[0]': 'spaeker' is no action" in message, message
    assert "(did you mean 'speaker'?)" in message
    assert not calls.exists()


@pytest.mark.parametrize(
    "setting,field,message",
    [
        ("max_turns: 0", "max_turns", "0 is less than the minimum of 1"),
        ("pools: {speaker: spare}", "pools", "speaker: 'spare' is not of type 'array'"),
    ],
)
async def test_a_setting_out_of_its_schema_s_bounds_is_refused_before_the_run(
    tmp_path: Path, setting: str, field: str, message: str
) -> None:
    """``max_turns: 0`` passed ``weft validate`` and failed only when the node started
    (after the nodes before it had run): the team's schema says at least 1."""
    found, where = await _refused_before_the_run(
        tmp_path, _one_setting("bad-setting", setting), setting
    )
    assert where in found, found
    assert f"node 'discuss', field 'with.{field}'" in found
    assert message in found


@pytest.mark.parametrize(
    "setting,field,message",
    [
        ("turn_timeout: -1", "turn_timeout", "turn_timeout must be a number of seconds > 0"),
        ("selector: roundrobin", "selector", "unknown speaker rule 'roundrobin'"),
    ],
)
async def test_a_bad_team_setting_from_an_input_names_its_line_before_anyone_speaks(
    tmp_path: Path, setting: str, field: str, message: str
) -> None:
    """A value a template gives is known only when the node starts: checked then, at the
    line of the ``with:`` entry (a literal one is refused before the run:
    test_team_validate.py)."""
    key, value = setting.split(": ")
    workflow = f"""
name: bad-setting
inputs:
  value: {{type: {"number" if key == "turn_timeout" else "string"}, default: {value}}}
actions:
  team: {{python: "weft.runtime.teams:team_action"}}
  speaker: {{python: "counted_members:speaker"}}
nodes:
  discuss:
    action: team
    with:
      task: decide
      members: [speaker]
      {key}: ${{inputs.value}}
"""
    setting = f"{key}: ${{inputs.value}}"
    flow, calls = _counted(tmp_path, workflow)
    result = await run_workflow(flow, journal=False)
    sys.modules.pop("counted_members", None)
    error = result.nodes["discuss"].error
    assert error is not None and error.type == "ValidationError", result
    line = workflow.splitlines().index(f"      {setting}") + 1
    assert error.message.startswith(f"{flow}:{line}:"), error.message
    assert f"node 'discuss', field 'with.{field}'" in error.message
    assert message in error.message
    assert not calls.exists()


@pytest.mark.parametrize(
    "action,setting",
    [
        ("weft.runtime.teams:team_action", "process: hierarchical"),  # CrewAI's words
        ("weft.runtime.teams:team_action", "manager_llm: speaker"),
        ("weft.runtime.teams:cluster_action", "subtask: [intro]"),
    ],
)
async def test_a_with_key_the_team_does_not_take_is_refused_at_its_line_before_the_run(
    tmp_path: Path, action: str, setting: str
) -> None:
    message, where = await _refused_before_the_run(
        tmp_path, _one_setting("foreign-key", setting, action), setting
    )
    key = setting.split(":")[0]
    assert message.startswith(where), message
    assert f"has no parameter '{key}'" in message and "parameters: task, members" in message


async def test_a_cluster_with_too_few_subtasks_names_the_line(tmp_path: Path) -> None:
    workflow = UNKNOWN_SYNTHESIZER.replace("synthesizer: edtor", "subtasks: [intro]")
    flow, calls = _counted(tmp_path, workflow)
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(flow, journal=False)
    sys.modules.pop("counted_members", None)
    message = str(caught.value)
    line = workflow.splitlines().index("      subtasks: [intro]") + 1
    assert message.startswith(f"{flow}:{line}:"), message
    assert "node 'refine', field 'with.subtasks'" in message
    assert "2 members but 1 subtasks" in message
    assert not calls.exists()


async def test_a_cluster_with_too_few_subtasks_from_an_input_names_the_line(
    tmp_path: Path,
) -> None:
    workflow = UNKNOWN_SYNTHESIZER.replace(
        "synthesizer: edtor", "subtasks: ${inputs.parts}"
    ).replace("actions:", "inputs:\n  parts: {type: array, default: [intro]}\nactions:", 1)
    flow, calls = _counted(tmp_path, workflow)
    result = await run_workflow(flow, journal=False)
    sys.modules.pop("counted_members", None)
    error = result.nodes["refine"].error
    assert error is not None and error.type == "ValidationError", result
    line = workflow.splitlines().index("      subtasks: ${inputs.parts}") + 1
    assert error.message.startswith(f"{flow}:{line}:"), error.message
    assert "2 members but got 1 subtasks" in error.message
    assert not calls.exists()
