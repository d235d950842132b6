"""MacNet networks of agents: every kind at any size, one actor per node, critics on edges."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from weft.agents import LLMAgent, tool
from weft.protocols import DefinitionError, EdgeSpec, WorkflowSpec
from weft.workflows import dumps_workflow, loads_workflow
from weft.workflows.casting import Capability, per_node
from weft.workflows.topologies import KINDS, generate


@tool
def draft(text: str) -> str:
    """Write a draft."""
    return text


@tool
def edit(text: str) -> str:
    """Edit a draft."""
    return text


@tool
def review(artifact: Any, source: str, target: str) -> dict[str, Any]:
    """Review an artifact."""
    return {"approved": True}


def graph_of(spec: WorkflowSpec) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(spec.nodes)
    graph.add_edges_from((e.node, name) for name, n in spec.nodes.items() for e in n.after)
    return graph


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_every_kind_gives_an_acyclic_workflow_of_the_requested_size(kind: str, n: int) -> None:
    spec = generate(kind, n, draft, seed=5).build()
    graph = graph_of(spec)
    assert graph.number_of_nodes() == n
    assert nx.is_directed_acyclic_graph(graph)


@pytest.mark.parametrize("kind", ["layered", "tree"])
def test_layered_and_tree_by_size_keep_their_shape(kind: str) -> None:
    spec = generate(kind, 10, draft, width=4, branching=3).build()
    graph = graph_of(spec)
    if kind == "layered":  # layers of 4, 4 and 2, each feeding the whole next layer
        assert graph.number_of_edges() == 4 * 4 + 4 * 2
        assert set(graph.successors("n4")) == {"n8", "n9"}
    else:  # breadth first: n0 -> n1..n3, n1 -> n4..n6, n2 -> n7..n9
        assert set(graph.successors("n2")) == {"n7", "n8", "n9"}
        assert graph.number_of_edges() == 9


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="small-world"):
        generate("ring", 4, draft)


def test_a_list_of_actors_is_cycled_over_the_nodes() -> None:
    spec = generate("chain", 5, [draft, edit]).build()
    assert [spec.nodes[f"n{i}"].action for i in range(5)] == [
        "draft",
        "edit",
        "draft",
        "edit",
        "draft",
    ]


def test_a_factory_makes_one_agent_per_node() -> None:
    seen: list[tuple[str, int]] = []

    def make(node: str, position: int) -> Any:
        seen.append((node, position))
        return LLMAgent(f"agent_{node}", instructions="Work on it.", description=f"agent {node}")

    wf = generate("star", 4, per_node(make))
    spec = wf.build()
    assert seen == [("n0", 0), ("n1", 1), ("n2", 2), ("n3", 3)]
    assert {n.action for n in spec.nodes.values()} == {
        "agent_n0",
        "agent_n1",
        "agent_n2",
        "agent_n3",
    }
    assert set(wf.actions) == {"agent_n0", "agent_n1", "agent_n2", "agent_n3"}


def test_a_bare_function_is_an_action_not_a_factory() -> None:
    def shout(text: str) -> str:
        return text.upper()

    spec = generate("chain", 2, shout).build()
    assert spec.nodes["n1"].action == "shout"


def test_agents_taking_task_and_context_see_the_task_and_their_predecessors_work() -> None:
    agent = LLMAgent("writer", instructions="Write.")
    spec = generate("chain", 3, agent).build()
    assert spec.nodes["n0"].with_ == {"task": "${inputs.task}"}
    assert spec.nodes["n2"].with_ == {"task": "${inputs.task}", "context": "${input}"}


def test_capability_nodes_can_be_cast_beside_actions() -> None:
    spec = generate("chain", 3, [draft, Capability("translate Spanish to English")]).build()
    node = spec.nodes["n1"]
    assert (node.action, node.capability) == ("", "translate Spanish to English")
    assert node.with_ == {"task": "${inputs.task}", "context": "${input}"}
    assert spec.nodes["n2"].action == "draft"


def test_a_critic_reviews_every_edge_with_bounded_rounds() -> None:
    spec = generate("random", 8, draft, seed=2, critic=review, max_rounds=3).build()
    edges = [e for n in spec.nodes.values() for e in n.after]
    assert edges
    assert all(e.critic == "review" and e.max_rounds == 3 for e in edges)


def test_critics_given_as_a_list_are_cycled_over_the_edges() -> None:
    @tool
    def strict(artifact: Any, source: str, target: str) -> dict[str, Any]:
        """A strict reviewer."""
        return {"approved": False}

    spec = generate("chain", 4, draft, critic=[review, strict]).build()
    assert [spec.nodes[f"n{i}"].after[0].critic for i in (1, 2, 3)] == [
        "review",
        "strict",
        "review",
    ]


def test_reducer_is_set_on_merge_nodes_only() -> None:
    spec = generate("layered", 4, draft, width=2, reducer="concat").build()
    assert spec.nodes["n0"].join is None
    join = spec.nodes["n2"].join
    assert join is not None and join.reducer == "concat"


def test_reverse_turns_the_star_into_a_fan_in() -> None:
    spec = generate("star", 4, draft, reverse=True).build()
    assert {e.node for e in spec.nodes["n0"].after} == {"n1", "n2", "n3"}


def test_a_network_with_critics_and_capabilities_round_trips_through_yaml() -> None:
    spec = generate(
        "small_world", 9, [draft, Capability("summarise")], seed=4, critic=review, max_rounds=2
    ).build()
    assert loads_workflow(dumps_workflow(spec)) == spec


def test_rounds_without_a_critic_are_refused() -> None:
    with pytest.raises(ValueError, match="needs a 'critic'"):
        EdgeSpec(node="a", max_rounds=2)


def test_a_node_with_both_action_and_capability_is_refused_with_its_line() -> None:
    text = "name: x\nnodes:\n  a:\n    action: t\n    capability: translate\n"
    with pytest.raises(DefinitionError) as caught:
        loads_workflow(text)
    message, where = caught.value.problems[0]
    assert message == "give 'action' or 'capability', not both"
    assert (where.line, where.node) == (4, "a")


def test_the_builder_takes_a_capability_instead_of_an_action() -> None:
    from weft.workflows import Workflow

    wf = Workflow("w")
    wf.node("a", capability="translate Spanish to English", with_={"task": "hola"})
    assert wf.build().nodes["a"].capability == "translate Spanish to English"
    with pytest.raises(DefinitionError, match="exactly one of an action or a capability"):
        wf.node("b")
