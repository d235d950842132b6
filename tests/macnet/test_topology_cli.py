"""``weft topology`` writes a workflow file that validates, round-trips and runs."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.workflows import dumps_workflow, load_workflow

AGENTS = """
from typing import Any
from weft import tool

@tool
def author(task: str, context: Any = None, feedback: str | None = None) -> str:
    \"\"\"Write a paragraph, or revise it after feedback.\"\"\"
    return "revised" if feedback else f"paragraph on {task}"

@tool
def editor(task: str, context: Any = None) -> str:
    \"\"\"Edit what the authors wrote.\"\"\"
    return f"edited {task}"

@tool
def reviewer(artifact: Any, source: str, target: str) -> dict:
    \"\"\"Send every first draft back once.\"\"\"
    return {"approved": artifact == "revised" or not str(artifact).startswith("paragraph"),
            "feedback": "shorter"}
"""


def weft(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of agents in the working folder; its (unique) name."""
    module = f"macnet_agents_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(AGENTS))
    monkeypatch.chdir(tmp_path)
    return module


@pytest.mark.parametrize(
    "kind", ["chain", "star", "tree", "mesh", "layered", "random", "small-world", "scale-free"]
)
def test_each_kind_writes_a_valid_acyclic_file_of_n_nodes(tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"{kind}.yaml"
    result = weft("topology", kind, "--nodes", "9", "--seed", "1", "-o", out)
    assert result.exit_code == 0, result.output
    spec = load_workflow(out)
    graph = nx.DiGraph([(e.node, n) for n, node in spec.nodes.items() for e in node.after])
    graph.add_nodes_from(spec.nodes)
    assert graph.number_of_nodes() == 9 and nx.is_directed_acyclic_graph(graph)
    assert dumps_workflow(spec) == out.read_text()  # round-trips as written
    assert weft("validate", out).exit_code == 0


def test_the_default_relay_network_runs(tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    assert weft("topology", "layered", "--nodes", "6", "-o", out).exit_code == 0
    result = weft("run", out, "-i", "task=hello", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["state"] == "succeeded"
    assert {n["state"] for n in report["nodes"].values()} == {"succeeded"}
    assert len(report["nodes"]) == 6


def test_actors_and_critics_from_a_module_run_from_another_folder(agents: str) -> None:
    out = Path("flows") / "review.yaml"
    result = weft(
        "topology", "random", "--nodes", "7", "--seed", "3", "--p", "0.5",
        "--actor", f"{agents}:author", "--actor", f"{agents}:editor",
        "--critic", f"{agents}:reviewer", "--rounds", "2", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = load_workflow(out)
    assert spec.python_path == [".."]
    assert spec.actions["author"].python == f"{agents}:author"
    assert {n.action for n in spec.nodes.values()} == {"author", "editor"}
    edges = [e for n in spec.nodes.values() for e in n.after]
    assert edges and all(e.critic == "reviewer" and e.max_rounds == 2 for e in edges)
    ran = weft("run", out, "-i", "task=tides", "--json")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.output)["state"] == "succeeded"


def test_an_actor_given_by_file_path_is_found_from_the_file(tmp_path: Path, agents: str) -> None:
    out = tmp_path / "deep" / "er" / "wf.yaml"
    written = weft("topology", "chain", "-n", "3", "--actor", f"{agents}.py:author", "-o", out)
    assert written.exit_code == 0, written.output
    spec = load_workflow(out)
    assert (spec.python_path, spec.actions["author"].python) == (["../.."], f"{agents}:author")
    ran = weft("run", out, "-i", "task=tides", "--json")
    assert json.loads(ran.output)["outputs"] == {"n2": "paragraph on tides"}


def test_an_agent_by_name_is_left_to_the_broker(tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    result = weft("topology", "star", "--nodes", "4", "--actor", "translator", "-o", out)
    assert result.exit_code == 0, result.output
    assert "weft run" in result.output and "--broker" in result.output
    spec = load_workflow(out)
    assert {n.action for n in spec.nodes.values()} == {"translator"} and not spec.actions


def test_capability_nodes_are_written_as_capabilities(tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    text = "translate Spanish to English"
    assert weft("topology", "chain", "-n", "2", "--capability", text, "-o", out).exit_code == 0
    spec = load_workflow(out)
    assert [n.capability for n in spec.nodes.values()] == [text, text]


def test_an_actor_that_does_not_import_is_a_one_line_error(agents: str) -> None:
    result = weft("topology", "chain", "-n", "2", "--actor", f"{agents}:nobody", "-o", "x.yaml")
    assert result.exit_code == 2
    assert "--actor" in result.output and "nobody" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_kind_lists_the_known_ones(tmp_path: Path) -> None:
    result = weft("topology", "ring", "--nodes", "3", "-o", tmp_path / "x.yaml")
    assert result.exit_code == 2
    assert "unknown topology 'ring'" in result.output
    assert "small-world, scale-free" in result.output  # as the docs spell them
    assert "small_world" not in result.output
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize("given", ["small_world", "small-world"])
def test_either_spelling_of_a_kind_is_written_and_printed_as_the_docs_spell_it(
    tmp_path: Path, given: str
) -> None:
    out = tmp_path / "x.yaml"
    result = weft("topology", given, "--nodes", "6", "--seed", "1", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: small-world, 6 nodes" in result.output
    assert load_workflow(out).name == "small-world"  # --name's default: the kind


def test_the_kinds_in_help_are_the_kinds_generate_knows() -> None:
    from weft.workflows.topologies import KINDS

    text = " ".join(weft("topology", "--help").output.split())
    listed = text.split("KIND: ", 1)[1].split(" (", 1)[0]
    assert listed == ", ".join(KINDS[:-1]) + f" or {KINDS[-1]}"
