"""The scheduling decisions on their own: joins (``Slot``) and edge delivery (``Dataflow``).

No event loop and no action is called here: these are the pure decisions
the scheduler carries out, so each can be checked step by step.
"""

from __future__ import annotations

from typing import Any

from weft import JoinSpec, NodeState, Workflow, tool
from weft.runtime import compile_workflow
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.dataflow import Dataflow
from weft.runtime.engine.slots import Slot, Verdict


@tool
def echo(value: Any) -> Any:
    return value


def three_into_one(join: JoinSpec | None = None) -> PreparedWorkflow:
    wf = Workflow("join")
    for name in ("a", "b", "c"):
        wf.node(name, echo, with_={"value": name})
    wf.node("j", echo, after=["a", "b", "c"], join=join)
    return compile_workflow(wf)


def slot_of(prepared: PreparedWorkflow, name: str) -> Slot:
    return Slot(prepared.nodes[name])


# -- joins ------------------------------------------------------------------------------


def test_a_join_all_waits_for_its_last_input_then_launches() -> None:
    slot = slot_of(three_into_one(), "j")
    assert slot.receive("a", 1) is None
    assert slot.receive("b", 2) is None
    assert slot.receive("c", 3) is Verdict.LAUNCH
    assert slot.arrivals == {"a": 1, "b": 2, "c": 3}


def test_a_join_all_with_a_failed_input_is_skipped_once_every_input_resolved() -> None:
    slot = slot_of(three_into_one(), "j")
    assert slot.receive_failed() is None
    assert slot.receive("b", 2) is None
    assert slot.receive("c", 3) is Verdict.UPSTREAM_FAILED


def test_a_join_all_whose_inputs_are_all_inactive_has_no_input() -> None:
    slot = slot_of(three_into_one(), "j")
    for _ in range(3):
        verdict = slot.receive_inactive()
    assert verdict is Verdict.NO_INPUT


def test_a_join_any_launches_on_its_first_input() -> None:
    slot = slot_of(three_into_one(JoinSpec(mode="any")), "j")
    assert slot.receive("b", 2) is Verdict.LAUNCH


def test_a_launched_join_takes_later_inputs_without_a_new_verdict() -> None:
    slot = slot_of(three_into_one(JoinSpec(mode="any")), "j")
    slot.receive("b", 2)
    slot.launch()
    assert slot.receive("a", 1) is None
    assert slot.arrivals == {"b": 2, "a": 1}


def test_a_quorum_that_can_no_longer_be_reached_is_skipped_early() -> None:
    slot = slot_of(three_into_one(JoinSpec(mode="quorum", count=2)), "j")
    assert slot.receive_inactive() is None
    assert slot.receive_inactive() is Verdict.QUORUM_NOT_REACHED


def test_a_quorum_missed_because_inputs_failed_says_so() -> None:
    slot = slot_of(three_into_one(JoinSpec(mode="quorum", count=3)), "j")
    assert slot.receive_failed() is Verdict.UPSTREAM_FAILED


def test_execution_keys_count_the_passes_of_a_node() -> None:
    slot = slot_of(three_into_one(), "j")
    assert [slot.next_key("sub/") for _ in range(3)] == ["sub/j", "sub/j#1", "sub/j#2"]


# -- delivering edges -------------------------------------------------------------------


def chain() -> PreparedWorkflow:
    wf = Workflow("chain")
    wf.node("a", echo, with_={"value": 1})
    wf.node("b", echo, after=["a"])
    wf.node("c", echo, after=["b"])
    return compile_workflow(wf)


def test_the_sources_start_first_and_are_marked_running() -> None:
    flow = Dataflow(three_into_one(), {})
    started = flow.start()
    assert [s.node.name for s in started] == ["a", "b", "c"]
    assert all(s.state is NodeState.RUNNING for s in started)


def test_a_node_that_succeeded_makes_its_successor_ready_with_its_output() -> None:
    flow = Dataflow(chain(), {})
    (a,) = flow.start()
    advance = flow.advance(a, NodeState.SUCCEEDED, 1)
    assert [s.node.name for s in advance.ready] == ["b"]
    assert advance.ready[0].arrivals == {"a": 1}
    assert flow.outputs == {"a": 1}


def test_a_failed_node_skips_everything_below_it_as_upstream_failed() -> None:
    flow = Dataflow(chain(), {})
    (a,) = flow.start()
    advance = flow.advance(a, NodeState.FAILED, None)
    assert advance.ready == []
    assert [(s.slot.node.name, s.reason) for s in advance.skipped] == [
        ("b", "upstream failed"),
        ("c", "upstream failed"),
    ]
    assert flow.slots["c"].state is NodeState.SKIPPED


def test_a_false_condition_skips_the_target_for_lack_of_input() -> None:
    wf = Workflow("cond")
    wf.node("a", echo, with_={"value": 1})
    wf.node("b", echo)
    wf.edge("a", "b", when="output > 5")
    flow = Dataflow(compile_workflow(wf), {})
    (a,) = flow.start()
    advance = flow.advance(a, NodeState.SUCCEEDED, 1)
    assert [(s.slot.node.name, s.reason) for s in advance.skipped] == [
        ("b", "no input (conditions false or critics rejected)")
    ]


def test_an_edge_with_a_critic_is_handed_to_review_before_it_delivers() -> None:
    @tool
    def critic(artifact: Any, source: str, target: str) -> dict[str, Any]:
        return {"approved": True}

    wf = Workflow("review")
    wf.node("a", echo, with_={"value": 1})
    wf.node("b", echo)
    wf.edge("a", "b", critic=critic)
    flow = Dataflow(compile_workflow(wf), {})
    (a,) = flow.start()
    advance = flow.advance(a, NodeState.SUCCEEDED, "draft")
    assert advance.ready == []
    (review,) = advance.reviews
    assert (review.edge.target, review.artifact) == ("b", "draft")
    delivered = flow.deliver(review.edge, "revised")
    assert [s.node.name for s in delivered.ready] == ["b"]
    assert flow.slots["b"].arrivals == {"a": "revised"}


def test_a_loop_edge_whose_condition_holds_starts_the_next_pass() -> None:
    wf = Workflow("loop")
    wf.node("draft", echo, with_={"value": "${check}"})
    wf.node("check", echo, after=["draft"])
    wf.edge("check", "draft", when="output < 3", max_iterations=5)
    flow = Dataflow(compile_workflow(wf), {})
    (draft,) = flow.start()
    (check,) = flow.advance(draft, NodeState.SUCCEEDED, 1).ready
    advance = flow.advance(check, NodeState.SUCCEEDED, 1)
    assert [s.node.name for s in advance.ready] == ["draft"]
    assert [(p.edge.source, p.iteration) for p in advance.loops] == [("check", 1)]
