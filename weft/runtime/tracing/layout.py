"""What the trace view draws: lanes and their rows, foreach groups, the DAG in layers.

The page's script only draws. Every decision that needs the whole run (which
lane a span sits in and on which row, which foreach item it belongs to, the
order of items, the DAG's layers) is made here, once, in Python, and handed
to the page as JSON with times in milliseconds from the run's start.

A foreach node's items are not packed into their lane's rows like other
spans: a 1,000-item fan-out would make the page 1,000 rows tall. They form a
*group* under the lane, one block of rows per item (its attempts and what it
made in that lane), labelled by index and ordered slowest first. A group of
more than ``COLLAPSE_ABOVE`` items starts folded into one row that draws how
many items were in flight over time, so a page stays short and quick to
open however wide the fan-out was.
"""

from __future__ import annotations

from typing import Any

from weft.runtime.tracing.analysis import (
    SpanTree,
    critical_path,
    foreach_items,
    graph_of,
    lane_of,
    pack_rows,
    tokens_of,
    usage_of,
)
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceRun

#: A foreach group with more items than this starts folded.
COLLAPSE_ABOVE = 10
#: Columns of a group's in-flight chart (how many items ran at once, over the group's time).
DENSITY_BINS = 120
#: Span states counted as failures in a group's summary.
_FAILED = frozenset({"error", "failed", "timeout"})

_Items = dict[int, list[SpanRecord]]


def view_model(run: TraceRun | None, spans: list[SpanRecord]) -> dict[str, Any]:
    """Everything the page draws, as JSON-ready data (times in ms from the run's start)."""
    tree = SpanTree.build(spans)
    critical = critical_path(tree)
    on_path = set(critical)
    origin = min((s.start for s in tree.spans), default=0.0)
    end = max((s.end for s in tree.spans), default=origin)
    owner = foreach_items(tree)
    lanes_of: dict[str, str | None] = {}
    plain: dict[str, list[SpanRecord]] = {}
    grouped: dict[tuple[str, str], _Items] = {}
    first: dict[str, float] = {}
    for span in tree.spans:  # in start order
        lane = lanes_of[span.span_id] = lane_of(span, tree)
        if lane is None:
            continue
        first.setdefault(lane, span.start)
        member = owner.get(span.span_id)
        if member is None:
            plain.setdefault(lane, []).append(span)
        else:
            node_span, index = member
            grouped.setdefault((lane, node_span), {}).setdefault(index, []).append(span)
    rows: dict[str, int] = {}
    item_of: dict[str, tuple[str, int]] = {}
    groups: list[dict[str, Any]] = []
    for (lane, node_span), items in grouped.items():
        group_id = f"g{len(groups)}"
        group, placed = _group(group_id, lane, tree.by_id[node_span], items, origin, on_path)
        groups.append(group)
        for span_id, (index, row) in placed.items():
            rows[span_id] = row
            item_of[span_id] = (group_id, index)
    lanes = []
    for lane in sorted(first, key=first.__getitem__):
        packed = pack_rows(plain.get(lane, []))
        rows.update(packed)
        members = [g for g in groups if g["lane"] == lane]
        lanes.append(
            {
                "name": lane,
                "rows": max(packed.values(), default=-1) + 1,
                "spans": len(plain.get(lane, [])) + sum(g["spans"] for g in members),
                "groups": [g["id"] for g in sorted(members, key=lambda g: g["start"])],
            }
        )
    served: dict[str, float] = {}  # caller span id -> time its agents ran the call
    for span in tree.spans:
        if span.attributes.get("weft.side") == "agent" and span.parent_id is not None:
            served[span.parent_id] = served.get(span.parent_id, 0.0) + span.end - span.start
    view_spans = [
        _view_span(span, lanes_of[span.span_id], rows, item_of, on_path, origin, served)
        for span in tree.spans
    ]
    return {
        "run": _run_info(run, tree),
        "total_ms": (end - origin) * 1000,
        "collapse_above": COLLAPSE_ABOVE,
        "lanes": lanes,
        "groups": groups,
        "spans": view_spans,
        "critical": critical,
        "graph": _dag(graph_of(tree.spans), tree, groups),
    }


def _view_span(
    span: SpanRecord,
    lane: str | None,
    rows: dict[str, int],
    item_of: dict[str, tuple[str, int]],
    on_path: set[str],
    origin: float,
    served: dict[str, float],
) -> dict[str, Any]:
    """One span as the page needs it; fields at their default are left out (the page fills them).

    ``served`` is, for a call an agent in another process answered, how long
    the agent ran it: the page shows it beside the time the caller waited.

    A 1,000-item run is a thousand of these, so what they leave out is most
    of the page's size: no agent, no usage, not critical, not in a group,
    and attributes that are None.
    """
    view: dict[str, Any] = {
        "id": span.span_id,
        "parent": span.parent_id,
        "name": span.name,
        "kind": span.kind,
        "status": span.status,
        "node": span.node,
        "lane": lane,
        "row": rows.get(span.span_id, 0),
        "start": _ms(span.start - origin),
        "duration": _ms(span.end - span.start),
        "attributes": {
            k: v for k, v in span.attributes.items() if v is not None and k != "weft.graph"
        },
    }
    if span.agent:
        view["agent"] = span.agent
    if span.span_id in item_of:
        view["group"], view["item"] = item_of[span.span_id]
    if span.span_id in on_path:
        view["critical"] = True
    if span.span_id in served:
        view["served"] = _ms(served[span.span_id])
    prompt, completion = tokens_of(span)
    if prompt or completion:
        view["tokens"] = [prompt, completion]
    cost = float(usage_of(span).get("cost") or 0.0)
    if cost:
        view["cost"] = cost
    return view


def _ms(seconds: float) -> float:
    """Milliseconds to the microsecond: enough for a timeline, and short in the page."""
    return round(max(seconds, 0.0) * 1000, 3)


def _group(
    group_id: str,
    lane: str,
    node: SpanRecord,
    items: _Items,
    origin: float,
    on_path: set[str],
) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """One foreach node's items in one lane: blocks of rows, slowest item first, and a summary.

    Also returns where each span was placed: ``span id -> (item index, row
    inside the item's block)``.
    """
    entries: list[dict[str, Any]] = []
    extents: list[tuple[float, float]] = []
    placed: dict[str, tuple[int, int]] = {}
    for index, members in items.items():
        packed = pack_rows(members)
        placed.update((span_id, (index, row)) for span_id, row in packed.items())
        start = min(s.start for s in members)
        stop = max(s.end for s in members)
        extents.append((start, stop))
        entries.append(
            {
                "index": index,
                "start": _ms(start - origin),
                "duration": _ms(stop - start),
                # The span that ended last (the last attempt, around what it made) decides.
                "status": max(members, key=lambda s: s.end).status,
                "rows": max(packed.values()) + 1,
                "critical": any(s.span_id in on_path for s in members),
                "spans": [s.span_id for s in members],
            }
        )
    entries.sort(key=lambda e: (-e["duration"], e["index"]))
    durations = sorted(e["duration"] for e in entries)
    start = min(s for s, _ in extents)
    stop = max(e for _, e in extents)
    group = {
        "id": group_id,
        "lane": lane,
        "node": node.span_id,
        "name": node.name,
        "count": len(entries),
        "spans": sum(len(members) for members in items.values()),
        "failed": sum(1 for e in entries if e["status"] in _FAILED),
        "p50": durations[(len(durations) - 1) // 2],
        "max": durations[-1],
        "peak": _peak(extents),
        # Calls agents in other processes ran: how many of the items in flight actually ran
        # at once there (the rest waited in the broker or an agent's queue).
        "served_peak": _peak(
            [
                (s.start, s.end)
                for members in items.values()
                for s in members
                if s.attributes.get("weft.side") == "agent"
            ]
        ),
        "start": _ms(start - origin),
        "duration": _ms(stop - start),
        "density": _density(extents, start, stop),
        "critical": any(e["critical"] for e in entries),
        "collapsed": len(entries) > COLLAPSE_ABOVE,
        "items": entries,
    }
    return group, placed


def _peak(extents: list[tuple[float, float]]) -> int:
    """The most items in flight at one moment (an item ending as another starts is not overlap)."""
    events = sorted([(s, 1) for s, _ in extents] + [(e, -1) for _, e in extents])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def _density(extents: list[tuple[float, float]], start: float, stop: float) -> list[float]:
    """Items in flight, averaged over each of ``DENSITY_BINS`` equal slices of the group's time."""
    width = (stop - start) / DENSITY_BINS
    if width <= 0:
        return [float(len(extents))]
    bins = [0.0] * DENSITY_BINS
    for s, e in extents:
        first = min(int((s - start) / width), DENSITY_BINS - 1)
        last = min(int((e - start) / width), DENSITY_BINS - 1)
        for b in range(first, last + 1):
            low = start + b * width
            overlap = min(e, low + width) - max(s, low)
            if overlap > 0:
                bins[b] += overlap / width
    return [round(v, 2) for v in bins]


def _run_info(run: TraceRun | None, tree: SpanTree) -> dict[str, Any]:
    root = tree.run_span()
    info: dict[str, Any] = {
        "run_id": run.run_id if run else (root.run_id if root else None),
        "workflow": (run.workflow if run else None) or (root.name if root else None),
        "state": run.state if run else (root.status if root else "unknown"),
        "started_at": run.started_at if run else (root.start if root else None),
        # As `weft trace ls` counts it: an ask's planning and routing before its run span too.
        "duration_ms": (
            run.duration * 1000
            if run is not None and run.duration is not None
            else ((root.end - root.start) * 1000 if root else None)
        ),
        "spans": len(tree.spans),
        "usage": (run.usage if run else {}) or (usage_of(root) if root else {}),
    }
    return info


def _layers(names: list[str], edges: list[list[str]]) -> dict[str, int]:
    """Each node's layer: the longest path to it from a source (in topological order, no recursion).

    A node left over by a cycle (edges should have none; loops are recorded
    apart) goes one layer after the predecessors that were placed.
    """
    incoming: dict[str, list[str]] = {name: [] for name in names}
    outgoing: dict[str, list[str]] = {name: [] for name in names}
    for source, target in edges:
        if source in incoming and target in incoming:
            incoming[target].append(source)
            outgoing[source].append(target)
    waiting = {name: len(incoming[name]) for name in names}
    ready = [name for name in reversed(names) if not waiting[name]]
    layer: dict[str, int] = {}
    while ready:
        name = ready.pop()
        layer[name] = 1 + max((layer[s] for s in incoming[name]), default=-1)
        for target in outgoing[name]:
            waiting[target] -= 1
            if not waiting[target]:
                ready.append(target)
    for name in names:
        if name not in layer:
            layer[name] = 1 + max((layer[s] for s in incoming[name] if s in layer), default=-1)
    return layer


def _dag(
    graph: dict[str, Any] | None, tree: SpanTree, groups: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Nodes placed in layers, with each node's latest state and, for a foreach, its item count.

    Edges and loops are flat lists of node positions, two per edge (source,
    target): a 10,000-node layered MacNet has 310,000 edges, and as pairs
    of names they were two fifths of its page.
    """
    if graph is None:
        return None
    names = [n["name"] for n in graph["nodes"]]
    layer = _layers(names, graph["edges"])
    latest: dict[str, SpanRecord] = {}
    for span in tree.spans:
        if span.kind == "node" and "/" not in span.name:
            latest[span.name] = span
    items: dict[str, set[int]] = {}
    for group in groups:
        items.setdefault(group["node"], set()).update(e["index"] for e in group["items"])
    per_layer: dict[int, int] = {}
    nodes = []
    for node in graph["nodes"]:
        name = node["name"]
        index = per_layer.get(layer[name], 0)
        per_layer[layer[name]] = index + 1
        ran = latest.get(name)
        nodes.append(
            {
                **node,
                "layer": layer[name],
                "index": index,
                "state": ran.status if ran else "not run",
                "span": ran.span_id if ran else None,
                "items": len(items[ran.span_id]) if ran and ran.span_id in items else None,
            }
        )
    position = {name: i for i, name in enumerate(names)}
    return {
        "nodes": nodes,
        "edges": _index_pairs(graph["edges"], position),
        "loops": _index_pairs(graph.get("loops", []), position),
        "layers": max(layer.values(), default=0) + 1,
        "height": max(per_layer.values(), default=1),
    }


def _index_pairs(edges: list[list[str]], position: dict[str, int]) -> list[int]:
    """``[[a, b], ...]`` by name as ``[i, j, ...]`` by node position; unknown nodes dropped."""
    flat: list[int] = []
    for source, target in edges:
        if source in position and target in position:
            flat += (position[source], position[target])
    return flat
