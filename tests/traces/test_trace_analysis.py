"""The critical path, lanes and rows that ``trace show``, the view and the Chrome export share."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from weft.runtime.tracing.analysis import SpanTree, critical_path, lane_of, pack_rows
from weft.runtime.tracing.spans import SpanRecord

RUN = "r" * 16


def node(name: str, start: float, end: float, **extra: Any) -> SpanRecord:
    return SpanRecord(
        trace_id="t" * 32,
        span_id=name.ljust(16, "0"),
        parent_id=extra.pop("parent", RUN),
        name=name,
        kind=extra.pop("kind", "node"),
        start=start,
        end=end,
        status="succeeded",
        agent=extra.pop("agent", None),
        attributes=extra,
    )


def run_span(end: float, graph: dict[str, Any] | None = None) -> SpanRecord:
    attributes = {"weft.graph": graph} if graph else {}
    return SpanRecord(
        "t" * 32, RUN, None, "wf", "run", 0.0, end, "succeeded", attributes=attributes
    )


def names(path: list[str], spans: list[SpanRecord]) -> list[str]:
    by_id = {s.span_id: s.name for s in spans}
    return [by_id[i] for i in path]


def test_the_critical_path_is_the_chain_that_finished_last() -> None:
    spans = [
        run_span(10),
        node("a", 0, 1),
        node("b", 1, 2),
        node("slow", 1, 8),
        node("early", 2, 3),
        node("d", 8, 9),
    ]
    assert names(critical_path(spans), spans) == ["wf", "a", "slow", "d"]


def test_recorded_edges_beat_timing_when_an_unrelated_node_ends_later() -> None:
    graph = {
        "nodes": [{"name": n, "action": n, "foreach": False} for n in ("a", "b", "c", "g", "d")],
        "edges": [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]],
        "loops": [],
    }
    spans = [
        run_span(10, graph),
        node("a", 0, 1),
        node("b", 1, 2),
        node("c", 1, 7.5),
        node("g", 0, 7.99),
        node("d", 8, 9),
    ]
    assert names(critical_path(spans), spans) == ["wf", "a", "c", "d"]


def test_the_path_goes_into_the_item_that_held_up_a_foreach_node() -> None:
    items = "f".ljust(16, "0")
    spans = [
        run_span(5),
        node("f", 0, 4),
        node("f-item-0", 0, 1, parent=items, kind="call"),
        node("f-item-1", 0, 3.9, parent=items, kind="call"),
        node("f-item-2", 0, 2, parent=items, kind="call"),
    ]
    assert names(critical_path(spans), spans) == ["wf", "f", "f-item-1"]


def test_lanes_are_agents_else_actions_and_llm_requests_join_their_caller() -> None:
    caller = node("ask", 0, 2, agent="planner-7")
    spans = [
        run_span(2),
        caller,
        node("chat", 0.5, 1.5, parent=caller.span_id, kind="llm"),
        node("local", 0, 1, **{"weft.action": "word_count"}),
    ]
    tree = SpanTree.build(spans)
    assert [lane_of(s, tree) for s in spans] == [None, "planner-7", "planner-7", "word_count"]


def test_overlapping_spans_get_separate_rows_and_later_ones_reuse_free_rows() -> None:
    spans = [node("x", 0, 3), node("y", 1, 2), node("z", 3, 4), node("w", 2.5, 5)]
    rows = pack_rows(spans)
    assert rows == {
        "x".ljust(16, "0"): 0,
        "y".ljust(16, "0"): 1,
        "z".ljust(16, "0"): 0,
        "w".ljust(16, "0"): 1,
    }


def test_an_agents_sequential_model_and_tool_calls_are_all_on_the_path() -> None:
    agent = node("agent", 0, 10)
    spans = [
        run_span(10),
        agent,
        node("chat-1", 0.1, 3, parent=agent.span_id, kind="llm"),
        node("lookup", 3.1, 6, parent=agent.span_id, kind="call"),
        node("chat-2", 6.1, 9.9, parent=agent.span_id, kind="llm"),
    ]
    assert names(critical_path(spans), spans) == ["wf", "agent", "chat-1", "lookup", "chat-2"]


def test_only_the_slowest_of_an_agents_parallel_tool_calls_is_on_the_path() -> None:
    agent = node("agent", 0, 10)
    spans = [
        run_span(10),
        agent,
        node("chat-1", 0.1, 3, parent=agent.span_id, kind="llm"),
        node("quick", 3.1, 4, parent=agent.span_id, kind="call"),
        node("slow", 3.1, 6, parent=agent.span_id, kind="call"),
        node("chat-2", 6.1, 9.9, parent=agent.span_id, kind="llm"),
    ]
    assert names(critical_path(spans), spans) == ["wf", "agent", "chat-1", "slow", "chat-2"]


def test_a_loop_whose_passes_were_read_back_from_the_journal_ends() -> None:
    """Zero-length passes within the clock tolerance of each other end "before" each other."""
    graph = {
        "nodes": [{"name": n, "action": n, "foreach": False} for n in ("write", "review")],
        "edges": [["write", "review"]],
        "loops": [["review", "write"]],
    }
    passes = [("write", 0.10000), ("review", 0.10002), ("write#1", 0.10004), ("review#1", 0.10006)]
    spans = [run_span(1, graph)] + [
        replace(node(key, at, at), name=key.split("#")[0], node=key) for key, at in passes
    ]
    assert names(critical_path(spans), spans) == ["wf", "write", "review", "write", "review"]
