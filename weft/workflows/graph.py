"""The shape of a workflow, computed once so the executor's hot path only reads tuples.

A workflow is a DAG of *forward* edges plus *loop* edges (those that set
``max_iterations``). Removing the loop edges must leave an acyclic graph, and
every loop edge must close a cycle of it; the nodes on that cycle are the loop
*body*, which the executor re-runs while the loop edge's condition holds.

``analyse`` raises on the first structural problem set; ``plan_graph`` returns
the problems instead, so ``validate`` can report them together with everything
else that is wrong in a definition.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import networkx as nx

from weft.protocols import DefinitionError, EdgeSpec, Location, WorkflowSpec, locate
from weft.protocols.hints import did_you_mean

Problem = tuple[str, Location]


@dataclass(frozen=True)
class LoopEdge:
    """An edge that closes a cycle; it re-runs ``body`` at most ``edge.max_iterations`` times."""

    source: str
    target: str
    edge: EdgeSpec
    #: Descendants of ``target`` that are ancestors of ``source`` in the forward
    #: graph, ``target`` and ``source`` included, in topological order.
    body: tuple[str, ...]


@dataclass(frozen=True)
class GraphPlan:
    """Everything about a workflow's graph the executor needs, precomputed.

    Every node is a key of every dict (with an empty tuple when it has nothing),
    so callers index without ``get``.
    """

    #: Topological order of the forward graph; ties broken by declaration order.
    order: tuple[str, ...]
    #: Forward incoming edges per node (``EdgeSpec.node`` is the source), declaration order.
    incoming: dict[str, tuple[EdgeSpec, ...]]
    #: Forward outgoing edges per node as ``(target, edge)``, in target declaration order.
    outgoing: dict[str, tuple[tuple[str, EdgeSpec], ...]]
    loops: tuple[LoopEdge, ...]
    #: Loop edges by target node.
    loops_into: dict[str, tuple[LoopEdge, ...]]
    #: Loop edges by source node.
    loops_from: dict[str, tuple[LoopEdge, ...]]
    #: Nodes without forward outgoing edges, in declaration order (the default outputs).
    sinks: tuple[str, ...]


def analyse(spec: WorkflowSpec) -> GraphPlan:
    """The ``GraphPlan`` of ``spec``.

    Raises ``DefinitionError`` listing every edge to an unknown node, repeated
    edge, cycle without a loop bound and loop edge that closes no cycle.
    """
    plan, problems = plan_graph(spec)
    if plan is None or problems:
        raise DefinitionError(problems)
    return plan


def in_file_order(problems: list[Problem]) -> list[Problem]:
    """``problems`` each once, in the order of their place in the file.

    Sorted by line and column within each file (files in the order they first
    appear, as a builder's problems may name several); a problem without a
    line comes first in its file. The sort is stable: problems at one place
    keep the order they were found in.
    """
    files: dict[str | None, int] = {}
    unique: list[Problem] = []
    seen: set[Problem] = set()
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
            files.setdefault(problem[1].file, len(files))

    def place(problem: Problem) -> tuple[int, int, int]:
        where = problem[1]
        return files[where.file], where.line or 0, where.column or 0

    return sorted(unique, key=place)


def plan_graph(
    spec: WorkflowSpec, *, loop_exits: bool = True
) -> tuple[GraphPlan | None, list[Problem]]:
    """The plan and the structural problems; the plan is None when the graph has no valid order.

    ``loop_exits=False`` leaves out "closes no cycle" (for a spec that lost edges).
    """
    names = list(spec.nodes)
    position = {name: i for i, name in enumerate(names)}
    incoming: dict[str, list[EdgeSpec]] = {n: [] for n in names}
    outgoing: dict[str, list[tuple[str, EdgeSpec]]] = {n: [] for n in names}
    loop_edges: list[tuple[str, str, EdgeSpec, int]] = []
    problems: list[Problem] = []
    source_map = spec.source

    for target, node in spec.nodes.items():
        seen: set[str] = set()
        for i, edge in enumerate(node.after):
            src = edge.node
            if src not in position:
                where = locate(
                    source_map, ("nodes", target, "after", i), node=target, field_name="after"
                )
                problems.append(
                    (f"edge from unknown node '{src}'{did_you_mean(src, names)}", where)
                )
                continue
            if src in seen:
                where = locate(
                    source_map, ("nodes", target, "after", i), node=target, field_name="after"
                )
                problems.append((f"'{src}' appears more than once in 'after'", where))
                continue
            seen.add(src)
            if edge.max_iterations is None:
                incoming[target].append(edge)
                outgoing[src].append((target, edge))
            else:
                loop_edges.append((src, target, edge, i))

    order = _topological_order(names, position, incoming, outgoing)
    if len(order) < len(names):
        problems.extend(_cycle_problems(spec, names, position, incoming, set(order)))
        return None, problems

    rank = {name: i for i, name in enumerate(order)}
    loops: list[LoopEdge] = []
    # adjacency of the forward graph, for loop bodies only: most graphs have no loop edge
    successors = {n: [t for t, _ in outgoing[n]] for n in names} if loop_edges else {}
    predecessors = {n: [e.node for e in incoming[n]] for n in names} if loop_edges else {}
    for src, tgt, edge, i in loop_edges:
        if src == tgt:
            body: tuple[str, ...] = (src,)
        else:
            descendants = _reachable(tgt, successors)
            if src not in descendants:
                if not loop_exits:
                    continue
                where = locate(
                    source_map,
                    ("nodes", tgt, "after", i, "max_iterations"),
                    node=tgt,
                    field_name="max_iterations",
                )
                problems.append(
                    (
                        f"edge from '{src}' sets max_iterations but closes no cycle: "
                        f"'{src}' is not reachable from '{tgt}'; remove max_iterations "
                        "to make it an ordinary edge",
                        where,
                    )
                )
                continue
            members = (descendants & _reachable(src, predecessors)) | {src, tgt}
            body = tuple(sorted(members, key=rank.__getitem__))
        loops.append(LoopEdge(source=src, target=tgt, edge=edge, body=body))

    loops_into: dict[str, list[LoopEdge]] = {n: [] for n in names}
    loops_from: dict[str, list[LoopEdge]] = {n: [] for n in names}
    for loop in loops:
        loops_into[loop.target].append(loop)
        loops_from[loop.source].append(loop)
    plan = GraphPlan(
        order=tuple(order),
        incoming={n: tuple(e) for n, e in incoming.items()},
        outgoing={n: tuple(e) for n, e in outgoing.items()},
        loops=tuple(loops),
        loops_into={n: tuple(e) for n, e in loops_into.items()},
        loops_from={n: tuple(e) for n, e in loops_from.items()},
        sinks=tuple(n for n in names if not outgoing[n]),
    )
    return plan, problems


def _reachable(start: str, step: dict[str, list[str]]) -> set[str]:
    """The nodes ``step`` leads to from ``start``, ``start`` left out (``nx.descendants``
    over successors, ``nx.ancestors`` over predecessors), without building a graph."""
    seen: set[str] = set()
    stack = list(step[start])
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(step[name])
    seen.discard(start)
    return seen


def _topological_order(
    names: list[str],
    position: dict[str, int],
    incoming: dict[str, list[EdgeSpec]],
    outgoing: dict[str, list[tuple[str, EdgeSpec]]],
) -> list[str]:
    """Kahn's algorithm with a heap on declaration position, so the order is stable.

    Returns fewer names than given when the forward graph has a cycle.
    """
    pending = {n: len(incoming[n]) for n in names}
    ready = [position[n] for n in names if pending[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for target, _ in outgoing[name]:
            pending[target] -= 1
            if pending[target] == 0:
                heapq.heappush(ready, position[target])
    return order


def _cycle_problems(
    spec: WorkflowSpec,
    names: list[str],
    position: dict[str, int],
    incoming: dict[str, list[EdgeSpec]],
    ordered: set[str],
) -> list[Problem]:
    """One problem per strongly connected component that holds a cycle.

    The cycle is spelled from its earliest-declared node, so the edge that
    closes it (reported as the location) is an entry in that node's ``after``.
    """
    stuck = [n for n in names if n not in ordered]
    graph = nx.DiGraph()
    graph.add_nodes_from(stuck)
    graph.add_edges_from(
        (edge.node, target) for target in stuck for edge in incoming[target] if edge.node in graph
    )
    problems: list[Problem] = []
    components = [c for c in nx.strongly_connected_components(graph) if _has_cycle(graph, c)]
    components.sort(key=lambda c: min(position[n] for n in c))
    for component in components:
        start = min(component, key=position.__getitem__)
        sub = graph.subgraph(component)
        successors = sorted(sub.successors(start), key=position.__getitem__)
        path = (
            [start, start]
            if start in successors
            else [start, *nx.shortest_path(sub, successors[0], start)]
        )
        closing = path[-2]
        index = next(i for i, e in enumerate(spec.nodes[start].after) if e.node == closing)
        where = locate(
            spec.source, ("nodes", start, "after", index), node=start, field_name="after"
        )
        cycle = " -> ".join(path)
        problems.append(
            (
                f"cycle without a loop bound: {cycle}; set max_iterations on the edge that "
                "closes it",
                where,
            )
        )
    return problems


def _has_cycle(graph: nx.DiGraph, component: set[str]) -> bool:
    if len(component) > 1:
        return True
    (only,) = component
    return bool(graph.has_edge(only, only))
