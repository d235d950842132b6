"""Reading a run's spans: the tree, the critical path, lanes, foreach items and totals.

Shared by ``weft trace show``, the HTML view and the Chrome export, so that
all three agree on what the critical path is and which lane a span sits in.
Works on stored spans (JSON-native attributes) and on raw in-memory ones.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from weft.runtime.tracing.spans import SpanRecord

#: Clock tolerance when deciding that one span ended before another started (seconds).
_EPSILON = 1e-4
#: Span kinds that belong to the lane of the span that made them, unless they name an agent.
_INHERITS_LANE = frozenset({"llm", "route", "memory"})
#: Lanes shared by the spans of a kind that no call made (an ask routes each subtask
#: before its run starts): one lane for all of them, not one per subtask.
_SHARED_LANES = {"route": "routing", "memory": "memory"}
#: The end of a foreach item's node key: ``research[17]``.
_ITEM_KEY = re.compile(r"\[(\d+)\]$")


@dataclass
class SpanTree:
    """Spans of one run indexed by id, with children in start order."""

    spans: list[SpanRecord]
    by_id: dict[str, SpanRecord] = field(default_factory=dict)
    children: dict[str, list[SpanRecord]] = field(default_factory=dict)
    roots: list[SpanRecord] = field(default_factory=list)

    @classmethod
    def build(cls, spans: Iterable[SpanRecord]) -> SpanTree:
        ordered = nest_first_attempts(sorted(spans, key=lambda s: (s.start, s.end)))
        tree = cls(ordered)
        tree.by_id = {s.span_id: s for s in ordered}
        for span in ordered:
            if span.parent_id is not None and span.parent_id in tree.by_id:
                tree.children.setdefault(span.parent_id, []).append(span)
            else:
                tree.roots.append(span)
        return tree

    def kids(self, span: SpanRecord) -> list[SpanRecord]:
        return self.children.get(span.span_id, [])

    def run_span(self) -> SpanRecord | None:
        """The latest run span (a resumed run has one per attempt)."""
        runs = [s for s in self.roots if s.kind == "run"]
        return max(runs, key=lambda s: s.end) if runs else None


def is_attempt(span: SpanRecord, node: SpanRecord) -> bool:
    """Whether ``span`` is the engine's span of one attempt of plain ``node``'s own call.

    Calls the action made through its context share the node's key, so the
    action's name tells them apart.
    """
    return (
        span.kind == "call"
        and "weft.retry_delay" in span.attributes
        and span.node == node.node
        and span.name == node.attributes.get("weft.action")
        and "weft.side" not in span.attributes
    )


def nest_first_attempts(spans: list[SpanRecord]) -> list[SpanRecord]:
    """``spans`` with what a node's first attempt made moved under that attempt's span.

    A plain node's first call *is* the node's span (one span per node keeps
    tracing cheap), so what the call made — an agent's span of it, calls
    through its context, LLM requests — names the node as parent. When the
    attempt fails and is retried, it becomes a span of its own beside the
    later attempts, and without this its work would hang beside it, under the
    node, as if it were another attempt. Children of later attempts already
    name their attempt. Records that move are copies; the others are the
    same objects, in the same order.
    """
    by_id = {s.span_id: s for s in spans}
    first: dict[str, SpanRecord] = {}  # node span id -> its first attempt's own span
    for span in spans:
        if span.kind != "call" or span.attributes.get("weft.attempt") != 1:
            continue
        parent = by_id.get(span.parent_id) if span.parent_id is not None else None
        if (
            parent is not None
            and parent.kind == "node"
            and not parent.attributes.get("weft.foreach")
            and is_attempt(span, parent)
        ):
            first[parent.span_id] = span
    if not first:
        return spans
    moved: list[SpanRecord] = []
    for span in spans:
        attempt = first.get(span.parent_id) if span.parent_id is not None else None
        # Later attempts start once the first has ended (and its retry delay passed).
        if (
            attempt is not None
            and span is not attempt
            and span.start < attempt.end
            and not (
                is_attempt(span, by_id[attempt.parent_id or ""])
                and span.attributes.get("weft.attempt") != 1
            )
        ):
            span = replace(span, parent_id=attempt.span_id)
        moved.append(span)
    return moved


def graph_of(spans: Iterable[SpanRecord]) -> dict[str, Any] | None:
    """The workflow outline (nodes, edges, loops) recorded on the run span, if any."""
    for span in spans:
        if span.kind == "run":
            graph = span.attributes.get("weft.graph")
            if isinstance(graph, dict) and "nodes" in graph:
                return graph
            if graph is not None and hasattr(graph, "nodes"):
                from weft.runtime.tracing.span_codec import graph_outline

                return graph_outline(graph)
    return None


def _predecessors(graph: dict[str, Any] | None) -> dict[str, set[str]] | None:
    if graph is None:
        return None
    preds: dict[str, set[str]] = {n["name"]: set() for n in graph.get("nodes", [])}
    for source, target in [*graph.get("edges", []), *graph.get("loops", [])]:
        preds.setdefault(target, set()).add(source)
    return preds


def _local_name(span: SpanRecord) -> str:
    return span.name.rsplit("/", 1)[-1]


def critical_path(spans: Iterable[SpanRecord] | SpanTree) -> list[str]:
    """Span ids of the chain that decided when the run ended, run span first.

    From the node that finished last, step back to the predecessor (by the
    workflow's edges when they were recorded, else any earlier node) that
    finished last before it started; a node's own children (sub-workflow
    nodes, foreach items, retries) are followed the same way. In a dataflow
    executor a node starts as soon as its last input arrives, so this chain is
    exactly what made the run as long as it was.
    """
    tree = spans if isinstance(spans, SpanTree) else SpanTree.build(spans)
    root = tree.run_span() or (max(tree.roots, key=lambda s: s.end) if tree.roots else None)
    if root is None:
        return []
    graph = graph_of(tree.spans)
    limited = {n["name"] for n in graph.get("nodes", []) if n.get("limited")} if graph else set()
    return [root.span_id, *_chain(tree, root, _predecessors(graph), limited)]


def _last_item(parent: SpanRecord, children: list[SpanRecord]) -> list[SpanRecord]:
    """Of a foreach node's children, the attempts of the item that ended last.

    Items without a concurrency limit all start with the node and wait for
    none of the others: one that did not await ran to its end before the
    event loop started the next, so a chain by time alone went through every
    such item (217 spans starred of 218) instead of the one that held the node up.
    """
    indexed = [c for c in children if item_index(c) is not None]
    if not indexed:
        return children
    last = item_index(max(indexed, key=lambda s: s.end))
    return [c for c in indexed if item_index(c) == last]


def _chain(
    tree: SpanTree,
    parent: SpanRecord,
    preds: dict[str, set[str]] | None,
    limited: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """The critical chain among ``parent``'s children, each followed into its own children.

    Children that are nodes step back along the workflow's edges (``preds``);
    other children (an agent's model requests and tool calls, a node's
    attempts, foreach items) step back by time alone, so an agent's
    sequential model call → tool call → model call is one chain, not just the
    last request. A span is taken once and only if it started no later than
    the one before it: a loop's passes name each other as predecessors, and
    spans of zero length (results read back from the journal after a resume)
    end "before" each other within the clock tolerance both ways, which made
    this walk go round forever.
    """
    children = tree.kids(parent)
    if not children:
        return []
    if (
        parent.kind == "node"
        and parent.attributes.get("weft.foreach")
        and _local_name(parent) not in limited
    ):
        children = _last_item(parent, children)
    nodes = [c for c in children if c.kind == "node"]
    edges: dict[str, list[SpanRecord]] = {}  # target node -> critic reviews and revisions
    if not nodes:
        nodes, preds = children, None
    else:
        for child in children:
            ends = _edge_ends(child)
            if ends is not None:
                edges.setdefault(ends[1], []).append(child)
    current = max(nodes, key=lambda s: s.end)
    chain = [current]
    taken = {current.span_id}
    # By name, so that a step looks only at the node's predecessors: scanning every node
    # at every step made a 10,000-node run's path take a second. Ties go to the earlier
    # child, as a scan in child order would.
    position = {id(n): i for i, n in enumerate(children)}
    named: dict[str, list[SpanRecord]] = {}
    for n in nodes:
        named.setdefault(_local_name(n), []).append(n)
    while True:
        pool = _step_pool(current, nodes, named, edges, preds)
        earlier = [
            n
            for n in pool
            if n.span_id not in taken
            and n.end <= current.start + _EPSILON
            and n.start <= current.start
        ]
        if not earlier:
            break
        current = max(earlier, key=lambda s: (s.end, -position[id(s)]))
        chain.append(current)
        taken.add(current.span_id)
    chain.reverse()
    path: list[str] = []
    for node in chain:
        path.append(node.span_id)
        path.extend(_chain(tree, node, None, limited))
    return path


def _edge_ends(span: SpanRecord) -> tuple[str, str] | None:
    """``(source, target)`` of a critic's review or a revision it asked for, else None.

    Both are keyed by their edge (``draft->publish``, ``draft->publish~1`` for
    the first revision), and sit beside the nodes under the run.
    """
    if span.kind not in ("critic", "call") or not span.node or "->" not in span.node:
        return None
    source, target = span.node.split("->", 1)
    target = target.split("~", 1)[0].split(":", 1)[0]
    return source.rsplit("/", 1)[-1], target.rsplit("/", 1)[-1]


def _step_pool(
    current: SpanRecord,
    nodes: list[SpanRecord],
    named: dict[str, list[SpanRecord]],
    edges: dict[str, list[SpanRecord]],
    preds: dict[str, set[str]] | None,
) -> list[SpanRecord]:
    """The spans the critical chain may step back to from ``current``.

    A node waited for its predecessors and for the critics on its incoming
    edges (a review, the revision it sent back, the next review); a critic's
    review or revision waited for the earlier ones of its edge and for the
    edge's source.
    """
    ends = _edge_ends(current) if edges else None
    if ends is not None:
        source, target = ends
        same_edge = [e for e in edges.get(target, ()) if _edge_ends(e) == ends]
        return [*same_edge, *named.get(source, ())]
    allowed = preds.get(_local_name(current)) if preds is not None else None
    pool = nodes if allowed is None else [n for a in allowed for n in named.get(a, ())]
    reviews = edges.get(_local_name(current))
    return [*pool, *reviews] if reviews else pool


def lane_of(span: SpanRecord, tree: SpanTree | None = None) -> str | None:
    """The timeline lane of a span: its agent, else its action; None for the run span.

    LLM requests, routing decisions and memory lookups sit in the lane of the
    call that made them unless they name an agent themselves; routing
    decisions and memory lookups no call made (an ask's, before its run)
    share the lanes ``routing`` and ``memory``; the messages of a team
    (``team`` spans) share one lane per team.
    """
    if span.kind == "run" and span.parent_id is None:
        return None
    if span.agent:
        return span.agent
    if span.kind in _INHERITS_LANE and tree is not None and span.parent_id in tree.by_id:
        parent = tree.by_id[span.parent_id]
        return lane_of(parent, tree) or span.name
    if span.kind in _SHARED_LANES:  # an ask's routing and memory, before its run span exists
        return _SHARED_LANES[span.kind]
    if span.kind == "node":
        action = span.attributes.get("weft.action")
        if isinstance(action, str):
            return action
    if span.kind == "team" and isinstance(span.attributes.get("weft.team"), str):
        return f"team {span.attributes['weft.team']}"  # a conversation reads as one lane
    return span.name


def pack_rows(spans: list[SpanRecord]) -> dict[str, int]:
    """Row index per span id inside one lane, so that overlapping spans never share a row.

    Each span takes the lowest row free at its start. Rows are kept in two heaps
    (busy by end, free by index), not scanned: 20,000 overlapping foreach items
    made thousands of rows, and the scan per span took the Chrome export 23 s.
    """
    busy: list[tuple[float, int]] = []  # (end, row)
    free: list[int] = []
    count = 0
    rows: dict[str, int] = {}
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        while busy and busy[0][0] <= span.start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            row = heapq.heappop(free)
        else:
            row, count = count, count + 1
        rows[span.span_id] = row
        heapq.heappush(busy, (span.end, row))
    return rows


def usage_of(span: SpanRecord) -> dict[str, Any]:
    """A span's usage as a plain dict (tokens, cost...), whatever form it was stored in."""
    usage = span.attributes.get("usage")
    if usage is None:
        return {}
    if isinstance(usage, dict):
        return usage
    dump = getattr(usage, "model_dump", None)
    return dump() if dump is not None else {}


def tokens_of(span: SpanRecord) -> tuple[int, int]:
    """``(prompt_tokens, completion_tokens)`` of a span."""
    usage = usage_of(span)
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def depth_first(tree: SpanTree) -> Iterable[tuple[int, SpanRecord]]:
    """``(depth, span)`` in display order: roots by start time, children under parents."""
    stack = [(0, s) for s in reversed(tree.roots)]
    while stack:
        depth, span = stack.pop()
        yield depth, span
        stack.extend((depth + 1, child) for child in reversed(tree.kids(span)))


def item_index(span: SpanRecord) -> int | None:
    """The index in a foreach item's node key (``research[17]`` -> 17), else None."""
    match = _ITEM_KEY.search(span.node or "")
    return int(match.group(1)) if match else None


def foreach_items(tree: SpanTree) -> dict[str, tuple[str, int]]:
    """``span id -> (foreach node's span id, item index)`` for every span inside a foreach item.

    An item is a child of a foreach node's span whose node key ends in
    ``[index]``: one span per attempt. What an item made (LLM requests, calls
    through its context, a remote agent's spans) belongs to the same item, so
    a view can keep an item's work together. With a foreach inside an item,
    a span belongs to the innermost item.
    """
    owner: dict[str, tuple[str, int]] = {}
    for _, span in depth_first(tree):
        parent = tree.by_id.get(span.parent_id) if span.parent_id is not None else None
        if parent is None:
            continue
        index = item_index(span)
        if index is not None and parent.kind == "node" and parent.attributes.get("weft.foreach"):
            owner[span.span_id] = (parent.span_id, index)
        elif parent.span_id in owner:
            owner[span.span_id] = owner[parent.span_id]
    return owner
