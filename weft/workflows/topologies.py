"""MacNet topologies as workflow generators: chain, star, tree, mesh, layered, random,
small-world and scale-free.

Each generator returns a ``Workflow`` builder, so callers can add nodes,
outputs or critics before ``build()``. Conventions shared by all of them:

- nodes are named ``n0 .. n{N-1}``; every node calls the same ``action``
  (an ``Action`` object, a function, or a name);
- edges go from the lower to the higher index, which makes every generated
  graph acyclic (networkx generators give undirected graphs; this orients
  them); ``reverse=True`` flips every edge, turning fan-out into fan-in;
- the workflow declares one input, ``task``. When ``with_`` is not given, a
  node without predecessors gets ``{PARAM: "${inputs.task}"}``, where PARAM is
  the action's single required (else single) parameter, or ``task`` when the
  action is given by name; a node with predecessors gets ``{}`` and so
  receives ``${input}``, the join of its predecessors (MacNet: a node sees
  only its direct predecessors' artifacts). A ``with_`` given is used for
  every node as is;
- ``join`` (default: all inputs, reducer ``list``) is set on nodes with more
  than one predecessor.

Generation is linear in nodes plus edges; a mesh has n(n-1)/2 edges, so a
1,000-node mesh is half a million edges, by definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import networkx as nx

from weft.protocols import ActionSpec, JoinSpec
from weft.workflows._callables import preview_spec
from weft.workflows.builder import ActionLike, Workflow

if TYPE_CHECKING:  # typing.Unpack arrives in 3.12; annotations are never evaluated here
    from typing_extensions import Unpack


class TopologyOptions(TypedDict, total=False):
    """Keyword options every generator accepts and passes to ``from_edges``."""

    with_: Mapping[str, Any] | None
    join: JoinSpec | str | None
    reverse: bool
    description: str


def from_edges(
    n: int,
    edges: Iterable[tuple[int, int]],
    action: ActionLike,
    *,
    name: str = "topology",
    with_: Mapping[str, Any] | None = None,
    join: JoinSpec | str | None = None,
    reverse: bool = False,
    description: str = "",
) -> Workflow:
    """A workflow over nodes ``n0..n{n-1}`` with the given ``(i, j)`` edges (``i → j``).

    The edges must form a DAG (generators orient them from lower to higher
    index); ``reverse`` flips each one. Duplicate edges are dropped.
    """
    if n < 1:
        raise ValueError(f"a topology needs at least one node, got n={n}")
    preds: list[list[int]] = [[] for _ in range(n)]
    seen: set[tuple[int, int]] = set()
    for i, j in edges:
        src, dst = (j, i) if reverse else (i, j)
        if (src, dst) not in seen and src != dst:
            seen.add((src, dst))
            preds[dst].append(src)
    wf = Workflow(name, description=description)
    wf.input("task", description="The task every source node starts from.")
    entry = {_entry_parameter(action): "${inputs.task}"}
    names = [f"n{i}" for i in range(n)]
    for i in range(n):
        incoming = sorted(preds[i])
        if with_ is not None:
            args: Mapping[str, Any] = with_
        else:
            args = {} if incoming else entry
        wf.node(
            names[i],
            action,
            with_=args,
            after=[names[p] for p in incoming],
            join=join if len(incoming) > 1 else None,
        )
    return wf


def _entry_parameter(action: ActionLike) -> str:
    """The parameter a source node fills with the task: the action's only (required) one."""
    spec: ActionSpec | None
    if isinstance(action, Workflow):
        spec = action.as_action_spec()
    elif hasattr(action, "spec"):
        spec = action.spec
    elif callable(action):
        try:
            spec = preview_spec(action)
        except TypeError:  # ``Workflow.node`` reports it, with the node's name
            return "task"
    else:
        return "task"
    schema = spec.input_schema
    required = list(schema.get("required") or [])
    if len(required) == 1:
        return str(required[0])
    properties = list(schema.get("properties") or {})
    if len(properties) == 1:
        return str(properties[0])
    return "task"


def chain(
    n: int, action: ActionLike, *, name: str = "chain", **options: Unpack[TopologyOptions]
) -> Workflow:
    """``n0 → n1 → … → n{n-1}``: each node refines its predecessor's artifact."""
    return from_edges(n, ((i, i + 1) for i in range(n - 1)), action, name=name, **options)


def star(
    n: int, action: ActionLike, *, name: str = "star", **options: Unpack[TopologyOptions]
) -> Workflow:
    """Hub ``n0`` fans out to the leaves ``n1..n{n-1}``, which are the sinks (the outputs).

    With ``reverse=True`` the leaves are the sources and join into the hub,
    which reduces their artifacts with ``join`` (MacNet's star read inward).
    """
    return from_edges(n, ((0, i) for i in range(1, n)), action, name=name, **options)


def tree(
    branching: int,
    depth: int,
    action: ActionLike,
    *,
    name: str = "tree",
    **options: Unpack[TopologyOptions],
) -> Workflow:
    """A full ``branching``-ary tree with ``depth`` levels below the root ``n0``.

    Nodes are numbered breadth first, so it has ``sum(branching**d for d in
    0..depth)`` nodes; ``reverse=True`` makes the leaves feed up to the root.
    """
    if branching < 1 or depth < 0:
        raise ValueError("a tree needs branching >= 1 and depth >= 0")
    n = depth + 1 if branching == 1 else (branching ** (depth + 1) - 1) // (branching - 1)
    edges = ((i, branching * i + k) for i in range(n) for k in range(1, branching + 1))
    return from_edges(n, ((i, j) for i, j in edges if j < n), action, name=name, **options)


def mesh(
    n: int, action: ActionLike, *, name: str = "mesh", **options: Unpack[TopologyOptions]
) -> Workflow:
    """The complete DAG: ``n_i → n_j`` for every ``i < j``."""
    return from_edges(
        n, ((i, j) for i in range(n) for j in range(i + 1, n)), action, name=name, **options
    )


def layered(
    layers: int,
    width: int,
    action: ActionLike,
    *,
    name: str = "layered",
    **options: Unpack[TopologyOptions],
) -> Workflow:
    """``layers`` layers of ``width`` nodes, each node feeding every node of the next layer.

    Nodes are numbered layer by layer: layer ``L`` holds ``n{L*width} ..``.
    """
    if layers < 1 or width < 1:
        raise ValueError("layered needs layers >= 1 and width >= 1")
    edges = (
        (layer * width + a, (layer + 1) * width + b)
        for layer in range(layers - 1)
        for a in range(width)
        for b in range(width)
    )
    return from_edges(layers * width, edges, action, name=name, **options)


def random_dag(
    n: int,
    p: float,
    action: ActionLike,
    *,
    seed: int | None = None,
    name: str = "random",
    **options: Unpack[TopologyOptions],
) -> Workflow:
    """Each pair ``i < j`` is an edge with probability ``p`` (Erdős-Rényi, then oriented)."""
    # the fast generator is O(n + edges) but slower than the plain one for dense graphs
    generate = nx.fast_gnp_random_graph if p < 0.2 else nx.gnp_random_graph
    graph = generate(n, p, seed=seed)
    return _from_graph(graph, n, action, name=name, **options)


def small_world(
    n: int,
    k: int,
    p: float,
    action: ActionLike,
    *,
    seed: int | None = None,
    name: str = "small_world",
    **options: Unpack[TopologyOptions],
) -> Workflow:
    """Watts-Strogatz: a ring of ``k`` nearest neighbours, each rewired with probability ``p``."""
    graph = nx.watts_strogatz_graph(n, k, p, seed=seed)
    return _from_graph(graph, n, action, name=name, **options)


def scale_free(
    n: int,
    m: int,
    action: ActionLike,
    *,
    seed: int | None = None,
    name: str = "scale_free",
    **options: Unpack[TopologyOptions],
) -> Workflow:
    """Barabási-Albert: each new node attaches to ``m`` existing ones by preferential attachment."""
    graph = nx.barabasi_albert_graph(n, m, seed=seed)
    return _from_graph(graph, n, action, name=name, **options)


def _from_graph(
    graph: nx.Graph, n: int, action: ActionLike, *, name: str, **options: Unpack[TopologyOptions]
) -> Workflow:
    edges = ((min(u, v), max(u, v)) for u, v in graph.edges())
    return from_edges(n, edges, action, name=name, **options)


__all__ = [
    "chain",
    "from_edges",
    "layered",
    "mesh",
    "random_dag",
    "scale_free",
    "small_world",
    "star",
    "tree",
]
