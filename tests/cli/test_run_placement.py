"""Every run summary says where each node ran: ``local``, or the agents that answered.

The agents come from the finished-call events (``ActionResult.agent``); a
local run needs no events. The end-to-end case over a real broker is in
``test_run_placement_remote.py``.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.cli._placement import UNANSWERED, Placements
from weft.protocols import EventKind, NodeState, RunEvent
from weft.runtime.engine.outcomes import NodeOutcome
from weft.testing import OpenAIServer, ScriptedModel, text

TOOLS = """
import weft

@weft.tool
def echo(value: object = None) -> object:
    return value
"""


def finished(node: str, action: str, agent: str | None = None, key: str | None = None) -> RunEvent:
    data: dict[str, object] = {"action": action, "started_at": 0.0}
    if agent is not None:
        data["agent"] = agent
    return RunEvent(
        run_id="r", kind=EventKind.NODE_FINISHED, at=0.0, node=node, key=key or node, data=data
    )


def ran(name: str, **fields: object) -> NodeOutcome:
    outcome = NodeOutcome(name=name, key=name, state=NodeState.SUCCEEDED, attempts=1)
    for field, value in fields.items():
        setattr(outcome, field, value)
    return outcome


def test_a_node_answered_by_one_agent_names_it() -> None:
    placements = Placements(remote={"summarise"})
    placements.on_event(finished("s", "summarise", "writer-1"))
    assert placements.where(ran("s")) == "agent writer-1"


def test_a_foreach_served_by_several_agents_counts_their_calls() -> None:
    placements = Placements(remote={"read"})
    for i, agent in enumerate(["a-1", "b-2", "a-1"]):
        placements.on_event(finished("read", "read", agent, key=f"read[{i}]"))
    assert placements.where(ran("read")) == "agents a-1 (2 calls), b-2 (1 call)"
    assert placements.agents_of("read") == ["a-1", "b-2"]


def test_a_remote_node_no_agent_answered_is_not_called_local() -> None:
    placements = Placements(remote={"summarise"})
    placements.on_event(finished("s", "summarise"))
    assert placements.where(ran("s", state=NodeState.FAILED)) == UNANSWERED


def test_a_node_with_a_local_action_is_local() -> None:
    placements = Placements(remote={"summarise"})
    placements.on_event(finished("e", "echo"))
    assert placements.where(ran("e")) == "local"
    assert Placements().where(ran("e")) == "local"


def test_an_llm_agent_that_ran_here_is_local_though_it_names_itself() -> None:
    # An LLMAgent's result names the agent (its own name): it ran in this process.
    placements = Placements(remote={"summarise"})
    placements.on_event(finished("w", "writer", "writer"))
    assert placements.where(ran("w")) == "local"
    assert placements.agents_of("w") == []


def test_an_agent_whose_id_is_the_name_of_a_remote_action_is_named() -> None:
    placements = Placements(remote={"writer"})
    placements.on_event(finished("w", "writer", "writer"))  # weft agent serve --agent-id writer
    assert placements.where(ran("w")) == "agent writer"


def test_nodes_that_made_no_call_say_nothing() -> None:
    placements = Placements()
    assert placements.where(ran("c", cached=True)) == ""
    assert placements.where(ran("k", state=NodeState.SKIPPED, attempts=0)) == ""


def test_sub_workflow_nodes_do_not_count_for_the_parent() -> None:
    placements = Placements(remote={"x"})
    placements.on_event(finished("sub/inner", "x", "agent-1"))
    assert placements.agents == {}


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    module = f"placement_tools_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: two
            actions:
              echo: {{python: "{module}:echo"}}
            nodes:
              a:
                action: echo
                with: {{value: 1}}
              b:
                action: echo
                after: a
                foreach: "${{inputs.items}}"
                with: {{value: "${{item}}"}}
            inputs:
              items: {{type: array, default: [1, 2]}}
            """
        )
    )
    return path


def run(tmp_path: Path, *args: str | Path) -> Result:
    argv = ["run", *map(str, args), "--journal", str(tmp_path / "journal.db")]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path)})


def test_the_summary_of_a_local_run_says_local_on_every_node(
    tmp_path: Path, workflow: Path
) -> None:
    result = run(tmp_path, workflow)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("  ✓")]
    assert [line.split()[1] for line in lines] == ["a", "b"]
    assert all(line.endswith("  local") for line in lines), lines


def test_the_json_summary_lists_no_agents_for_local_nodes(tmp_path: Path, workflow: Path) -> None:
    result = run(tmp_path, workflow, "--json")
    assert result.exit_code == 0, result.output
    nodes = json.loads(result.stdout)["nodes"]
    assert nodes["a"]["agents"] == [] and nodes["b"]["agents"] == []


LLM_WORKFLOW = """
name: llm-here
actions:
  writer:
    llm:
      instructions: "Write."
      model: m
nodes:
  w:
    action: writer
    with: {task: "Say hi."}
outputs:
  text: ${w}
"""


def test_a_yaml_llm_agent_run_here_is_local_in_the_summary_and_json(tmp_path: Path) -> None:
    path = tmp_path / "llm.yaml"
    path.write_text(LLM_WORKFLOW)
    with OpenAIServer(ScriptedModel([text("hi"), text("hi")])) as server:
        env = {"WEFT_HOME": str(tmp_path), "OPENAI_BASE_URL": server.base_url, "WEFT_BROKER": None}
        shown = CliRunner().invoke(cli, ["run", str(path), "--no-stream"], env=env)
        as_json = CliRunner().invoke(cli, ["run", str(path), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    line = next(line for line in shown.stdout.splitlines() if line.startswith("  ✓ w"))
    assert line.endswith("  local"), line
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["nodes"]["w"]["agents"] == []
