"""``weft route --agents`` takes what ``weft ask --agents`` takes: plain functions and
compiled LangGraph graphs too.

Found in a real-use trial: with ``tools = [word_count, scale]`` (plain ``def``s)
and ``drafter = StateGraph(...).compile(name="drafter")`` in a user's file,
``weft ask --agents plain.py:tools`` and ``--agents plain.py:drafter`` ran, but
``weft route`` with the same references said ``expected an action, a
capability card, or a list, dict or registry of them, got function`` (and
``got CompiledStateGraph``), though its docs say it reads ``--agents`` as
``weft ask`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli

USER_FILE = '''
from __future__ import annotations

from typing import Optional, TypedDict

from langgraph.graph import END, START, StateGraph


def word_count(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


def scale(value: float, factor: Optional[float] = 2.0) -> float:
    """Multiply a number by a factor."""
    return value * (factor or 1)


class State(TypedDict, total=False):
    topic: str
    body: str


def write(state: State) -> dict:
    return {"body": "About " + state["topic"]}


b = StateGraph(State)
b.add_node("write", write)
b.add_edge(START, "write")
b.add_edge("write", END)
drafter = b.compile(name="drafter")

tools = [word_count, scale]
'''


def route(folder: Path, text: str, *agents: str) -> Result:
    args = ["route", text, "--no-rerank", "--json"]
    for ref in agents:
        args += ["--agents", ref]
    return CliRunner().invoke(cli, args, env={"WEFT_HOME": str(folder / "home")})


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain_user_tools.py"
    path.write_text(USER_FILE)
    return path


def test_route_takes_plain_functions_and_a_graph_as_ask_does(user_file: Path) -> None:
    result = route(
        user_file.parent, "count the words of a text", f"{user_file}:tools", f"{user_file}:drafter"
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["chosen"]["agent_id"] == "word_count"
    names = {c["agent_id"] for c in answer["candidates"]}
    assert names == {"word_count", "scale", "drafter"}


def test_what_is_no_action_is_still_refused_naming_its_type(user_file: Path) -> None:
    result = route(user_file.parent, "anything", f"{user_file}:State")
    assert result.exit_code == 2, result.output
    assert "got _TypedDictMeta" in result.output or "got type" in result.output
