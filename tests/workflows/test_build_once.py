"""Building large graphs in linear time keeps every check: what the shortcuts must not change.

A workflow built with the builder is validated once as a whole (``build``) and
then only against the resolved actions (``check_actions``); loop bodies come
from a plain walk of the forward graph; a function bound to many nodes has its
signature read once; the garbage collector is paused during a build. Each test
here pins one of those to the behaviour of the slow path it replaces.
"""

from __future__ import annotations

import gc
import random
import threading

import networkx as nx
import pytest

from weft.agents import tool
from weft.protocols import DefinitionError, WorkflowSpec
from weft.runtime import compile_workflow
from weft.workflows import Workflow, analyse, generate, validate
from weft.workflows.gc_pause import gc_paused
from weft.workflows.validate import check_actions


def needs_text(text: str) -> str:
    return text


def test_loop_bodies_match_networkx_on_random_graphs() -> None:
    rng = random.Random(3)
    for _ in range(20):
        n = rng.randint(4, 14)
        forward = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.3]
        loops = [(j, i) for i, j in rng.sample(forward, min(3, len(forward)))]
        after: dict[int, list[object]] = {j: [] for j in range(n)}
        for i, j in forward:
            after[j].append(f"n{i}")
        for src, tgt in loops:  # src is downstream of tgt: closes a cycle
            after[tgt].append({"node": f"n{src}", "max_iterations": 2})
        spec = WorkflowSpec.model_validate(
            {"name": "g", "nodes": {f"n{j}": {"action": "t", "after": after[j]} for j in range(n)}}
        )
        plan = analyse(spec)
        graph = nx.DiGraph([(f"n{i}", f"n{j}") for i, j in forward])
        graph.add_nodes_from(spec.nodes)
        for loop in plan.loops:
            expected = nx.descendants(graph, loop.target) & nx.ancestors(graph, loop.source)
            assert set(loop.body) == expected | {loop.source, loop.target}
            assert list(loop.body) == [n for n in plan.order if n in set(loop.body)]


def test_a_loop_edge_that_closes_no_cycle_is_still_reported() -> None:
    spec = WorkflowSpec.model_validate(
        {
            "name": "g",
            "nodes": {
                "a": {"action": "t"},
                "b": {"action": "t", "after": ["a"]},
                "c": {"action": "t", "after": [{"node": "b", "max_iterations": 2}]},
            },
        }
    )
    with pytest.raises(DefinitionError, match="closes no cycle: 'b' is not reachable from 'c'"):
        analyse(spec)


def test_check_actions_reports_what_validate_reports() -> None:
    spec = WorkflowSpec.model_validate(
        {
            "name": "v",
            "action_concurrency": {"nope": 2},
            "nodes": {
                "a": {"action": "needs_text", "with": {"text": 3, "extra": 1}},
                "b": {"action": "missing", "after": [{"node": "a", "critic": "gone"}]},
                "c": {"action": "needs_text", "with": {"other": "${inputs.x}"}},
            },
        }
    )
    actions = {"needs_text": tool(needs_text).spec}
    with pytest.raises(DefinitionError) as full:
        validate(spec, actions)
    with pytest.raises(DefinitionError) as only_actions:
        check_actions(spec, actions)
    assert only_actions.value.problems == full.value.problems
    assert len(full.value.problems) == 7


def test_compile_still_checks_the_callers_actions_after_the_builder() -> None:
    """The builder's checks pass with its own function; the caller's action wins and lacks
    the argument: compiling reports it, at the node, as a full validation did."""
    wf = Workflow("w")
    wf.input("task")
    wf.node("first", needs_text, with_={"text": "${inputs.task}"})

    def needs_text_and_more(text: str, more: int) -> str:
        return text

    with pytest.raises(DefinitionError) as info:
        compile_workflow(wf, {"needs_text": needs_text_and_more})
    ((message, where),) = info.value.problems
    assert "missing required argument(s): more" in message
    assert where.node == "first"


def test_builder_errors_still_come_first_from_compile() -> None:
    wf = Workflow("w")
    wf.node("a", needs_text, with_={"text": "${nowhere}"})
    with pytest.raises(DefinitionError, match="unknown name 'nowhere'"):
        compile_workflow(wf)


def test_a_function_renamed_between_nodes_binds_under_its_new_name() -> None:
    def act(text: str) -> str:
        return text

    wf = Workflow("w")
    wf.node("a", act, with_={"text": "x"})
    act.__name__ = "renamed"
    wf.node("b", act, with_={"text": "x"})
    assert wf.build().nodes["b"].action == "renamed"
    assert set(wf.actions) == {"act", "renamed"}


def test_another_function_under_a_bound_name_is_still_refused() -> None:
    def make() -> object:
        def act(text: str) -> str:
            return text

        return act

    wf = Workflow("w")
    wf.node("a", make())
    with pytest.raises(
        DefinitionError, match="two different objects are registered as action 'act'"
    ):
        wf.node("b", make())


def test_gc_pause_restores_the_collectors_state() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_end_with_the_collector_on() -> None:
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    assert inside.wait(5)
    with gc_paused():
        release.set()
        other.join(5)
        assert not gc.isenabled()  # the other pause ended first; this one still holds
    assert gc.isenabled()


def test_generated_graph_keeps_its_shape_and_order() -> None:
    built = compile_workflow(generate("layered", 400, needs_text))
    edges = sum(len(node.after) for node in built.spec.nodes.values())
    assert edges == 19 * 20 * 20  # 20 layers of 20, each node feeding the next layer
    assert built.plan.order[:2] == ("n0", "n1")
    assert [e.source for e in built.nodes["n25"].incoming] == [f"n{i}" for i in range(20)]
    assert [e.target for e in built.nodes["n0"].outgoing] == [f"n{i}" for i in range(20, 40)]
