"""``weft topology`` feeds an actor of several inputs as the engine does, or refuses it up front.

Found in a real-use trial: with ``--actor file.py:f`` for ``def f(a: int, b: str)``,
or a LangGraph graph whose state has two keys, the command failed in two lines
about a ``task`` input the actor does not have, or wrote a file whose every run
failed at the node; a graph compiled without a name was written to the file's
``actions:`` under its variable but to its nodes as ``LangGraph``, so no run
found it. A node without ``with`` is fed as the engine feeds it (an object from
its predecessor fills several inputs by key); where what the actors declare
shows it cannot be, the error names the node and the inputs it cannot fill.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli

ACTORS = """
from typing_extensions import TypedDict

from langgraph.graph import END, START, StateGraph


def pair(a: int, b: str) -> str:
    \"\"\"Repeat b a times.\"\"\"
    return b * a


class AB(TypedDict):
    a: int
    b: str


def split(text: str) -> AB:
    \"\"\"A count and a word from a text.\"\"\"
    return {"a": 2, "b": text}


def word(text: str) -> str:
    \"\"\"The text, as it is.\"\"\"
    return text


class Brief(TypedDict):
    topic: str
    audience: str


class Note(TypedDict):
    text: str


def build(state, write):
    b = StateGraph(state)
    b.add_node("write", write)
    b.add_edge(START, "write")
    b.add_edge("write", END)
    return b.compile()


briefing = build(Brief, lambda s: {"topic": s["topic"] + " for " + s["audience"]})
noting = build(Note, lambda s: {"text": s["text"] + "!"})
"""


def weft(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def actors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A file of actors in the working folder; its (unique) name."""
    name = f"feeding_actors_{uuid.uuid4().hex[:10]}.py"
    (tmp_path / name).write_text(textwrap.dedent(ACTORS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "home"))
    return name


def test_an_actor_of_two_inputs_at_a_source_is_refused_naming_node_and_inputs(
    actors: str,
) -> None:
    result = weft("topology", "chain", "-n", "3", "--actor", f"{actors}:pair", "-o", "t.yaml")
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert "node 'n0' (pair) cannot be fed" in line and "takes a, b (required)" in line
    assert not Path("t.yaml").exists()


def test_a_graph_of_two_state_keys_at_a_source_is_refused(actors: str) -> None:
    result = weft("topology", "chain", "-n", "2", "--actor", f"{actors}:briefing", "-o", "t.yaml")
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert "node 'n0' (briefing) cannot be fed" in line and "topic, audience" in line


def test_an_actor_of_two_inputs_takes_an_object_with_them_and_is_refused_a_text(
    actors: str,
) -> None:
    refused = weft(
        "topology", "chain", "-n", "2",
        "--actor", f"{actors}:word", "--actor", f"{actors}:pair", "-o", "t.yaml",
    )  # fmt: skip
    assert refused.exit_code == 2
    [line] = refused.output.strip().splitlines()
    assert "node 'n1' (pair) cannot be fed" in line and "n0 (word) passes a string" in line
    assert not Path("t.yaml").exists()
    wrote = weft(
        "topology", "chain", "-n", "2",
        "--actor", f"{actors}:split", "--actor", f"{actors}:pair", "-o", "t.yaml",
    )  # fmt: skip
    assert wrote.exit_code == 0, wrote.output
    ran = weft("run", "t.yaml", "-i", "task=ab", "--json")
    assert ran.exit_code == 0, ran.output
    assert '"n1": "abab"' in ran.output


def test_a_list_from_a_join_is_refused_for_an_actor_of_two_inputs(actors: str) -> None:
    result = weft(
        "topology", "star", "-n", "3", "--reverse",
        "--actor", f"{actors}:pair", "--actor", f"{actors}:split", "-o", "t.yaml",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "node 'n0' (pair) cannot be fed" in result.output
    assert "reducer 'list' passes a list" in result.output


def test_a_graph_compiled_without_a_name_runs_as_its_variable(actors: str) -> None:
    wrote = weft("topology", "chain", "-n", "1", "--actor", f"{actors}:noting", "-o", "t.yaml")
    assert wrote.exit_code == 0, wrote.output
    assert "action: noting" in Path("t.yaml").read_text()
    ran = weft("run", "t.yaml", "-i", "task=hi", "--json")
    assert ran.exit_code == 0, ran.output
    assert '"text": "hi!"' in ran.output
