"""Teams and clusters in a YAML workflow, members named like any action; traced per message."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from weft.cli._app import cli
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


async def test_a_misspelled_member_fails_the_team_naming_it(tmp_path: Path) -> None:
    (tmp_path / "yaml_members.py").write_text(textwrap.dedent(MEMBERS))
    (tmp_path / "wf.yaml").write_text(
        WORKFLOW.replace("members: [alice, bob]", "members: [alice, bbo]")
    )
    result = await run_workflow(tmp_path / "wf.yaml", journal=False)
    assert not result.ok
    error = result.nodes["discuss"].error
    assert error is not None and error.type == "UnknownAction"
    assert "member 'bbo'" in error.message, error.message


async def test_a_pool_for_someone_who_is_not_a_member_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "yaml_members.py").write_text(textwrap.dedent(MEMBERS))
    workflow = WORKFLOW.replace("max_turns: 6}", "max_turns: 6, pools: {carol: [bob]}}")
    (tmp_path / "wf.yaml").write_text(workflow)
    result = await run_workflow(tmp_path / "wf.yaml", journal=False)
    error = result.nodes["discuss"].error
    assert error is not None and error.type == "ValidationError"
    assert "'carol', not a member" in error.message, error.message


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
