"""``analyse``: the precomputed shape of a workflow the executor runs from."""

from __future__ import annotations

from typing import Any

import pytest

from weft.protocols import DefinitionError, WorkflowSpec
from weft.workflows import analyse


def spec(**nodes: Any) -> WorkflowSpec:
    return WorkflowSpec.model_validate(
        {"name": "g", "nodes": {name: {"action": "t", **body} for name, body in nodes.items()}}
    )


def test_order_is_topological_with_ties_in_declaration_order() -> None:
    plan = analyse(spec(c={"after": ["a"]}, b={}, a={}, d={"after": ["c", "b"]}))
    assert plan.order == ("b", "a", "c", "d")


def test_incoming_keeps_edge_declaration_order() -> None:
    plan = analyse(spec(a={}, b={}, c={"after": ["b", "a"]}))
    assert [e.node for e in plan.incoming["c"]] == ["b", "a"]


def test_outgoing_lists_targets_with_their_edges() -> None:
    plan = analyse(spec(a={}, b={"after": [{"node": "a", "when": "output"}]}, c={"after": ["a"]}))
    assert [(target, edge.when) for target, edge in plan.outgoing["a"]] == [
        ("b", "output"),
        ("c", None),
    ]


def test_every_node_is_a_key_of_every_table() -> None:
    plan = analyse(spec(a={}, b={"after": ["a"]}))
    for table in (plan.incoming, plan.outgoing, plan.loops_into, plan.loops_from):
        assert set(table) == {"a", "b"}
    assert plan.loops_into["a"] == ()


def test_sinks_are_nodes_without_forward_successors() -> None:
    plan = analyse(spec(a={}, b={"after": ["a"]}, c={"after": ["a"]}))
    assert plan.sinks == ("b", "c")


def test_loop_edge_is_kept_out_of_the_forward_graph() -> None:
    plan = analyse(
        spec(
            write={"after": [{"node": "review", "max_iterations": 3}]}, review={"after": ["write"]}
        )
    )
    assert plan.order == ("write", "review")
    assert plan.incoming["write"] == ()
    assert plan.sinks == ("review",)


def test_loop_body_is_the_cycle_in_topological_order() -> None:
    plan = analyse(
        spec(
            start={},
            draft={"after": ["start", {"node": "check", "max_iterations": 2}]},
            side={"after": ["start"]},
            edit={"after": ["draft"]},
            check={"after": ["edit", "side"]},
            done={"after": ["check"]},
        )
    )
    (loop,) = plan.loops
    assert (loop.source, loop.target, loop.body) == ("check", "draft", ("draft", "edit", "check"))
    assert plan.loops_into["draft"] == (loop,)
    assert plan.loops_from["check"] == (loop,)


def test_self_loop_with_a_bound_has_a_one_node_body() -> None:
    plan = analyse(spec(a={"after": [{"node": "a", "max_iterations": 5}]}))
    assert plan.loops[0].body == ("a",)


def test_cycle_without_bound_is_named() -> None:
    with pytest.raises(DefinitionError, match=r"cycle without a loop bound: a -> b -> a"):
        analyse(spec(a={"after": ["b"]}, b={"after": ["a"]}))


def test_each_separate_cycle_is_reported() -> None:
    with pytest.raises(DefinitionError) as info:
        analyse(spec(a={"after": ["b"]}, b={"after": ["a"]}, c={"after": ["c"]}))
    assert [m for m, _ in info.value.problems] == [
        "cycle without a loop bound: a -> b -> a; set max_iterations on the edge that closes it",
        "cycle without a loop bound: c -> c; set max_iterations on the edge that closes it",
    ]


def test_node_downstream_of_a_cycle_is_not_blamed() -> None:
    with pytest.raises(DefinitionError) as info:
        analyse(spec(a={"after": ["b"]}, b={"after": ["a"]}, c={"after": ["b"]}))
    assert len(info.value.problems) == 1


def test_bounded_edge_that_closes_no_cycle_is_an_error() -> None:
    with pytest.raises(DefinitionError, match="closes no cycle"):
        analyse(spec(a={}, b={"after": [{"node": "a", "max_iterations": 2}]}))


def test_repeated_edge_is_an_error() -> None:
    with pytest.raises(DefinitionError, match="'a' appears more than once in 'after'"):
        analyse(spec(a={}, b={"after": ["a", "a"]}))


def test_edge_from_unknown_node_without_source_names_node_only() -> None:
    with pytest.raises(DefinitionError) as info:
        analyse(spec(a={"after": ["ghost"]}))
    message, where = info.value.problems[0]
    assert message == "edge from unknown node 'ghost'"
    assert (where.node, where.line) == ("a", None)
