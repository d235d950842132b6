"""A file's own compiled LangGraph graphs and weft workflows count as its top-level actions.

Found in a real-use trial: ``graph = builder.compile()`` in ``mygraph.py`` was not
taken by ``weft ask --agents mygraph.py`` (nor ``weft route --agents``) unless named,
``mygraph.py:graph``; the error listed the graph's node function as a plain
function instead. A ``Workflow`` built at a file's top level was refused the same
way. Both are agents the user wrote, as an ``LLMAgent`` there is; they go by their
variable's name when they have none of their own (LangGraph names every graph
compiled without a name ``LangGraph``), and one imported from another module is
that module's, not the file's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.cli._ask_agents import load_agents
from weft.cli._serve_targets import load_target
from weft.runtime.engine.compiler import as_action

SHARED = """
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class Note(TypedDict):
    text: str


def keep(state: Note) -> dict:
    return {"text": state["text"]}


b = StateGraph(Note)
b.add_node("keep", keep)
b.add_edge(START, "keep")
b.add_edge("keep", END)
shared_graph = b.compile()
"""

USER_FILE = '''
from typing import TypedDict

import weft
from langgraph.graph import END, START, StateGraph
from shared_graphs import shared_graph


class State(TypedDict):
    text: str
    summary: str


def summarise(state: State) -> dict:
    return {"summary": "Summary: " + state["text"][:40]}


def build(name=None):
    b = StateGraph(State)
    b.add_node("summarise", summarise)
    b.add_edge(START, "summarise")
    b.add_edge("summarise", END)
    return b.compile(name=name) if name else b.compile()


builder = StateGraph(State)  # a builder, not compiled: no action
graph = build()
drafter = build("drafter")
also_graph = graph  # the same graph twice: one action


def shout(text: str) -> str:
    """Shout a text."""
    return text.upper()


pipeline = weft.Workflow("shouter", description="Shout a text")
pipeline.input("text", type="string", required=True)
pipeline.node("s", shout, with_={"text": "${inputs.text}"})
'''


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    (tmp_path / "shared_graphs.py").write_text(SHARED)
    path = tmp_path / "my_graphs_file.py"
    path.write_text(USER_FILE)
    return path


def test_a_files_own_graphs_and_workflows_are_its_actions(user_file: Path) -> None:
    registry = load_agents((str(user_file),))
    assert sorted(registry.names()) == ["drafter", "graph", "shouter"]
    assert registry.get("graph").spec.kind.value == "agent"


def test_a_graph_named_alone_goes_by_its_variable(user_file: Path) -> None:
    registry = load_agents((f"{user_file}:graph",))
    assert registry.names() == ["graph"]


def test_agent_serve_takes_the_same_from_a_file(user_file: Path) -> None:
    found = load_target(str(user_file))
    names = sorted(as_action(action).spec.name for action in found)
    assert names == ["drafter", "graph", "shouter"]


def test_weft_route_routes_to_a_files_graphs(user_file: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["route", "shout a text", "--agents", str(user_file), "--no-rerank", "--json"],
        env={"WEFT_HOME": str(user_file.parent / "home")},
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {c["agent_id"] for c in answer["candidates"]} == {"graph", "drafter", "shouter"}


def test_a_workflow_that_is_no_action_on_its_own_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "served_elsewhere_flow.py"
    path.write_text(
        "import weft\n"
        "flow = weft.Workflow('remote-flow')\n"
        "flow.node('a', 'translator', with_={'text': 'hi'})\n"
    )
    result = CliRunner().invoke(
        cli,
        ["route", "translate", "--agents", str(path), "--no-rerank"],
        env={"WEFT_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert "its workflow 'remote-flow' (flow) is no action on its own" in line
    assert "actions the file does not define (translator)" in line


def test_a_workflow_for_a_broker_says_to_run_it_there_naming_every_missing_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broker_only_flow.py").write_text(
        "import weft\n"
        "flow = weft.Workflow('pipeline')\n"
        "flow.node('draft', 'writer', with_={'text': 'hi'})\n"
        "flow.node('edit', 'editor', after=['draft'])\n"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["ask", "write a haiku", "--agents", "broker_only_flow.py"],
        env={"WEFT_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: --agents broker_only_flow.py: its workflow 'pipeline' (flow)")
    assert "actions the file does not define (writer, editor)" in line
    assert "weft run broker_only_flow.py --broker URL (with workflow = flow in it)" in line
    assert "and 1 more" not in line


def test_such_a_workflow_beside_tools_is_left_out(tmp_path: Path) -> None:
    """A file of tools with a workflow for ``weft run --broker`` loaded before graphs and
    workflows counted; it still does, offering its tools."""
    path = tmp_path / "tools_and_remote_flow.py"
    path.write_text(
        "import weft\n"
        "@weft.tool\n"
        "def shout(text: str) -> str:\n"
        "    '''Shout the text back in capitals.'''\n"
        "    return text.upper()\n"
        "flow = weft.Workflow('remote-flow')\n"
        "flow.node('a', 'translator', with_={'text': 'hi'})\n"
    )
    result = CliRunner().invoke(
        cli,
        ["route", "shout hello", "--agents", str(path), "--no-rerank", "--json"],
        env={"WEFT_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 0, result.output
    assert {c["agent_id"] for c in json.loads(result.stdout)["candidates"]} == {"shout"}
