"""One action named twice in ``--agents`` is one action; two of one name are an error.

Found in a real-use trial: ``weft ask --agents tools.py --agents tools.py:graph``
(or ``--agents tools:helper`` twice) failed with "two different actions are
registered as 'graph'", of one and the same graph (each reference ran the file
again, and wrapped the function or graph anew); and ``weft route --agents`` on a
file listing two graphs compiled without a name kept one card of the two, so the
other graph's work went to it without a word, where ``weft ask`` names the clash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from weft.cli._ask_agents import load_agents
from weft.cli.route import load_agent_cards
from weft.protocols import DefinitionError, WeftError

GRAPHS = """
from typing_extensions import TypedDict

from langgraph.graph import END, START, StateGraph


class Note(TypedDict):
    text: str


def keep(state: Note) -> dict:
    return {"text": state["text"]}


def build():
    b = StateGraph(Note)
    b.add_node("keep", keep)
    b.add_edge(START, "keep")
    b.add_edge("keep", END)
    return b.compile()


polisher = build()


def clean(text: str) -> str:
    \"\"\"Collapse the spaces of a text.\"\"\"
    return " ".join(text.split())
"""


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "trial_twice_tools.py"
    path.write_text(GRAPHS)
    monkeypatch.chdir(tmp_path)
    return path


def test_a_file_and_one_of_its_graphs_are_one_action(tools: Path) -> None:
    registry = load_agents((str(tools), f"{tools}:polisher", f"{tools}:clean"))
    assert sorted(registry.names()) == ["clean", "polisher"]


def test_a_plain_function_named_twice_is_one_action(tools: Path) -> None:
    registry = load_agents(("trial_twice_tools:clean", "trial_twice_tools:clean"))
    assert registry.names() == ["clean"]


def test_route_takes_a_graph_named_twice_as_one_card(tools: Path) -> None:
    cards = load_agent_cards([str(tools), f"{tools}:polisher"])
    assert [card.agent_id for card in cards] == ["polisher"]


def test_route_refuses_two_unnamed_graphs_as_ask_does(tools: Path) -> None:
    unnamed = tools.parent / "trial_twice_unnamed.py"
    unnamed.write_text(GRAPHS + "\nagents = [build(), build()]\n")
    clash = "two different actions are registered as 'LangGraph'"
    with pytest.raises(WeftError, match=clash):
        load_agents((str(unnamed),))
    with pytest.raises(DefinitionError, match=clash):
        load_agent_cards([str(unnamed)])
