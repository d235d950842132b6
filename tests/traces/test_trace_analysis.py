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


def test_a_critics_reviews_and_the_revision_they_asked_for_are_on_the_path() -> None:
    """``publish`` waited for the critic on its edge (review, revision, review), not for
    ``draft`` alone: the reviews, under the run beside the nodes, were left off."""
    graph = {
        "nodes": [{"name": n, "action": n, "foreach": False} for n in ("draft", "publish")],
        "edges": [["draft", "publish"]],
        "loops": [],
    }
    spans = [
        run_span(10, graph),
        node("draft", 0, 1),
        node("review-1", 1, 3, kind="critic", node="draft->publish"),
        node("revise", 3, 5, kind="call", node="draft->publish~1"),
        node("review-2", 5, 7, kind="critic", node="draft->publish~1"),
        node("other-review", 2, 2.5, kind="critic", node="draft->elsewhere"),
        node("publish", 7, 9),
    ]
    spans = [replace(s, node=s.attributes.pop("node", s.name)) for s in spans]
    assert names(critical_path(spans), spans) == [
        "wf",
        "draft",
        "review-1",
        "revise",
        "review-2",
        "publish",
    ]


def test_a_running_runs_open_spans_get_stand_ins_so_items_sit_under_their_node() -> None:
    """While a run goes on, its run span and a foreach node with items left are not
    recorded yet: ``weft trace show`` printed every finished item as a root."""
    from weft.runtime.tracing.open_spans import OPEN_RUN_ID, with_open_spans

    def item(index: int, parent: str) -> SpanRecord:
        return replace(
            node(f"work{index}", index, index + 1, kind="call", parent=parent),
            name="work",
            node=f"b[{index}]",
        )

    finished = [replace(node("list", 0, 1), node="list"), item(0, "bnode"), item(1, "bnode")]
    spans = with_open_spans(finished, now=5.0, workflow="wf")
    tree = SpanTree.build(spans)
    (root,) = tree.roots
    assert (root.span_id, root.name, root.kind, root.status) == (RUN, "wf", "run", "running")
    list_span, b = tree.kids(root)
    assert (list_span.name, b.name, b.kind, b.status) == ("list", "b", "node", "running")
    assert b.attributes["weft.foreach"] is True and b.attributes["weft.action"] == "work"
    assert (b.start, b.end) == (0, 5.0)
    assert [k.node for k in tree.kids(b)] == ["b[0]", "b[1]"]

    # Before any node ended, the run span's id is not known: a stand-in holds the node.
    (root,) = SpanTree.build(with_open_spans([item(0, "bnode")], now=2.0)).roots
    assert (root.span_id, root.name) == (OPEN_RUN_ID, "run")
    # Nothing missing: the spans as they are.
    whole = [run_span(3), *finished[:1]]
    assert with_open_spans(whole, now=2.0) == whole


def _foreach_run(limited: bool) -> list[SpanRecord]:
    """A foreach node ``f`` whose items [0] to [2] did not await: each ran to its end
    before the next started; item [1] failed once and its retry ended last."""
    outline: dict[str, Any] = {"name": "f", "action": "work", "foreach": True}
    if limited:
        outline["limited"] = True
    graph = {"nodes": [outline], "edges": [], "loops": []}
    parent = "f".ljust(16, "0")

    def item(name: str, index: int, start: float, end: float) -> SpanRecord:
        return replace(node(name, start, end, parent=parent, kind="call"), node=f"f[{index}]")

    return [
        run_span(10, graph),
        replace(node("f", 0, 9, **{"weft.foreach": True}), node="f"),
        item("item0", 0, 0.0, 1.0),
        item("item1-attempt1", 1, 1.0, 2.0),
        item("item2", 2, 2.0, 3.0),
        item("item1-attempt2", 1, 5.0, 8.0),
    ]


def test_unlimited_foreach_items_are_not_a_chain_however_the_event_loop_ran_them() -> None:
    """A 200-item foreach of tools that never awaited starred 217 spans of 218."""
    spans = _foreach_run(limited=False)
    assert names(critical_path(spans), spans) == ["wf", "f", "item1-attempt1", "item1-attempt2"]


def test_items_waiting_for_a_concurrency_slot_chain_through_each_other() -> None:
    spans = _foreach_run(limited=True)
    assert names(critical_path(spans), spans) == [
        "wf",
        "f",
        "item0",
        "item1-attempt1",
        "item2",
        "item1-attempt2",
    ]


def test_the_outline_says_which_foreach_nodes_have_a_concurrency_limit() -> None:
    from weft import Workflow, tool
    from weft.runtime import compile_workflow
    from weft.runtime.tracing.span_codec import graph_outline

    @tool
    async def work(x: int) -> int:
        return x

    wf = Workflow("limits")
    wf.node("list", lambda: [1, 2])
    wf.node("free", work, after=["list"], foreach="${list}", with_={"x": "${item}"})
    wf.node("slots", work, after=["list"], foreach="${list}", with_={"x": "${item}"}, concurrency=2)
    outline = graph_outline(compile_workflow(wf))
    limited = {n["name"]: n.get("limited", False) for n in outline["nodes"]}
    assert limited == {"list": False, "free": False, "slots": True}


def test_a_running_agents_tool_call_is_not_taken_for_its_nodes_own_call() -> None:
    """While an LLM agent's node runs, its finished tool calls share the node's key:
    the stand-in node was named after one (``weft.action``), and ``trace show`` drew
    the agent's model requests under ``lookup_order call 505 µs``."""
    from weft.runtime.tracing.open_spans import with_open_spans

    def kid(name: str, kind: str, start: float, **extra: Any) -> SpanRecord:
        span = node(name, start, start + 1, kind=kind, parent="triage", **extra)
        return replace(span, node="triage")

    finished = [
        kid("chat1", "llm", 0),
        kid("lookup_order", "call", 1, **{"weft.attempt": 1, "weft.retry_delay": None}),
        kid("chat2", "llm", 2),
    ]
    tree = SpanTree.build(with_open_spans(finished, now=9.0, workflow="support"))
    (root,) = tree.roots
    (triage,) = tree.kids(root)
    assert (triage.name, triage.kind, triage.status) == ("triage", "node", "running")
    assert "weft.action" not in triage.attributes
    assert [k.name for k in tree.kids(triage)] == ["chat1", "lookup_order", "chat2"]

    # A node whose first attempt failed and is retried: that attempt names the action.
    retried = kid("work", "call", 0, **{"weft.attempt": 1, "weft.retry_delay": 0.5})
    tree = SpanTree.build(with_open_spans([retried], now=9.0))
    (work,) = tree.kids(tree.roots[0])
    assert work.attributes["weft.action"] == "work"
