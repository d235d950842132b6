"""MacNet topology generators: right shape, acyclic, reversible, fast at 1,000+ nodes."""

from __future__ import annotations

import networkx as nx
import pytest

from weft.agents import tool
from weft.protocols import WorkflowSpec
from weft.workflows import (
    Workflow,
    chain,
    layered,
    mesh,
    random_dag,
    scale_free,
    small_world,
    star,
    tree,
    validate,
)


@tool
def work(text: str) -> str:
    """Do one step of work on a text."""
    return text


def as_graph(spec: WorkflowSpec) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(spec.nodes)
    graph.add_edges_from((e.node, name) for name, n in spec.nodes.items() for e in n.after)
    return graph


def shape(wf: Workflow) -> tuple[int, int]:
    graph = as_graph(wf.build())
    return graph.number_of_nodes(), graph.number_of_edges()


@pytest.mark.parametrize(
    ("wf", "expected"),
    [
        (chain(5, work), (5, 4)),
        (star(6, work), (6, 5)),
        (tree(2, 3, work), (15, 14)),
        (tree(3, 0, work), (1, 0)),
        (mesh(5, work), (5, 10)),
        (layered(3, 4, work), (12, 32)),
        (small_world(20, 4, 0.0, work, seed=1), (20, 40)),
        (scale_free(30, 2, work, seed=1), (30, 56)),
    ],
    ids=["chain", "star", "tree", "tree-root-only", "mesh", "layered", "small-world", "scale-free"],
)
def test_node_and_edge_counts(wf: Workflow, expected: tuple[int, int]) -> None:
    assert shape(wf) == expected


@pytest.mark.parametrize(
    "wf",
    [
        random_dag(60, 0.2, work, seed=3),
        small_world(60, 6, 0.3, work, seed=3),
        scale_free(60, 3, work, seed=3),
        mesh(12, work, reverse=True),
    ],
    ids=["random", "small-world", "scale-free", "reversed-mesh"],
)
def test_generated_graphs_are_acyclic(wf: Workflow) -> None:
    assert nx.is_directed_acyclic_graph(as_graph(wf.build()))


def test_nodes_are_named_by_index() -> None:
    assert list(chain(3, work).build().nodes) == ["n0", "n1", "n2"]


def test_reverse_flips_every_edge() -> None:
    forward = as_graph(star(5, work).build())
    backward = as_graph(star(5, work, reverse=True).build())
    assert set(backward.edges) == {(v, u) for u, v in forward.edges}


def test_reversed_star_joins_leaves_into_the_hub() -> None:
    plan = star(4, work, reverse=True, join="any").plan()
    assert plan.sinks == ("n0",)
    assert [e.node for e in plan.incoming["n0"]] == ["n1", "n2", "n3"]


def test_sources_get_the_task_and_others_their_input() -> None:
    spec = chain(2, work).build()
    assert spec.nodes["n0"].with_ == {"text": "${inputs.task}"}
    assert spec.nodes["n1"].with_ == {}


def test_with_template_applies_to_every_node() -> None:
    spec = chain(2, "agent", with_={"task": "${inputs.task}"}).build()
    assert all(n.with_ == {"task": "${inputs.task}"} for n in spec.nodes.values())


def test_action_by_name_uses_a_task_parameter() -> None:
    assert chain(1, "agent").build().nodes["n0"].with_ == {"task": "${inputs.task}"}


def test_join_is_set_only_on_nodes_with_several_inputs() -> None:
    spec = layered(2, 2, work, join="any").build()
    assert spec.nodes["n0"].join is None
    assert spec.nodes["n2"].join is not None


def test_seeded_generators_are_reproducible() -> None:
    first = as_graph(random_dag(40, 0.1, work, seed=7).build())
    second = as_graph(random_dag(40, 0.1, work, seed=7).build())
    assert set(first.edges) == set(second.edges)


def test_generator_returns_a_builder_that_takes_more_nodes() -> None:
    wf = chain(3, work)
    wf.node("summary", work, after=["n2"])
    assert wf.plan().sinks == ("summary",)


def test_thousand_node_layered_workflow_builds_and_validates() -> None:
    # its speed is measured in bench/executor.py, not asserted here
    wf = layered(50, 20, work)
    spec = wf.build()
    plan = validate(spec, wf.action_specs())
    assert len(plan.order) == 1000
    assert sum(len(edges) for edges in plan.incoming.values()) == 49 * 20 * 20
