"""MacNet topologies as workflow generators: chain, star, tree, mesh, layered, random,
small-world and scale-free.

Each generator returns a ``Workflow`` builder, so callers can add nodes,
outputs or critics before ``build()``. Conventions shared by all of them:

- nodes are named ``n0 .. n{N-1}``; ``action`` is the cast that plays them
  (``weft.workflows.casting``): one action for every node, a list cycled
  over the nodes, ``per_node(factory)`` for one agent per node, or a
  ``Capability`` the run's router resolves;
- edges go from the lower to the higher index, which makes every generated
  graph acyclic (networkx generators give undirected graphs; this orients
  them); ``reverse=True`` flips every edge, turning fan-out into fan-in;
- the workflow declares one input, ``task``. When ``with_`` is not given, a
  node gets the task and its direct predecessors' artifacts only (MacNet's
  memory control), shaped for its actor (``casting.node_arguments``). A
  ``with_`` given is used for every node as is;
- ``critic`` (one action, or a list cycled over the edges) reviews every
  artifact before its edge delivers it; with ``max_rounds`` it may send it
  back to its source with feedback that many times (``EdgeSpec.max_rounds``);
- ``join`` (default: all inputs, reducer ``list``) is set on nodes with more
  than one predecessor; ``reducer`` names the reducer of those merge nodes.

Generation is linear in nodes plus edges; a mesh has n(n-1)/2 edges, so a
1,000-node mesh is half a million edges, by definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import networkx as nx

from weft.protocols import JoinMode, JoinSpec
from weft.workflows.builder import Workflow
from weft.workflows.casting import Cast, Feeding, cast_of, node_arguments, place
from weft.workflows.gc_pause import gc_paused

if TYPE_CHECKING:  # typing.Unpack arrives in 3.12; annotations are never evaluated here
    from typing_extensions import Unpack


class TopologyOptions(TypedDict, total=False):
    """Keyword options every generator accepts and passes to ``from_edges``."""

    with_: Mapping[str, Any] | None
    join: JoinSpec | str | None
    reducer: str | None
    critic: Cast | None
    max_rounds: int
    reverse: bool
    description: str


def from_edges(
    n: int,
    edges: Iterable[tuple[int, int]],
    action: Cast,
    *,
    name: str = "topology",
    with_: Mapping[str, Any] | None = None,
    join: JoinSpec | str | None = None,
    reducer: str | None = None,
    critic: Cast | None = None,
    max_rounds: int = 0,
    reverse: bool = False,
    description: str = "",
) -> Workflow:
    """A workflow over nodes ``n0..n{n-1}`` with the given ``(i, j)`` edges (``i → j``).

    The edges must form a DAG (generators orient them from lower to higher
    index); ``reverse`` flips each one. Duplicate edges are dropped.
    """
    if n < 1:
        raise ValueError(f"a topology needs at least one node, got n={n}")
    with gc_paused():  # an object per edge, none in a cycle: see ``gc_pause``
        return _from_edges(
            n,
            edges,
            action,
            name=name,
            with_=with_,
            join=join,
            reducer=reducer,
            critic=critic,
            max_rounds=max_rounds,
            reverse=reverse,
            description=description,
        )


def _from_edges(
    n: int,
    edges: Iterable[tuple[int, int]],
    action: Cast,
    *,
    name: str,
    with_: Mapping[str, Any] | None,
    join: JoinSpec | str | None,
    reducer: str | None,
    critic: Cast | None,
    max_rounds: int,
    reverse: bool,
    description: str,
) -> Workflow:
    preds: list[list[int]] = [[] for _ in range(n)]
    seen: set[tuple[int, int]] = set()
    for i, j in edges:
        src, dst = (j, i) if reverse else (i, j)
        if (src, dst) not in seen and src != dst:
            seen.add((src, dst))
            preds[dst].append(src)
    wf = Workflow(name, description=description)
    # every part is the user's line that called the generator: found once, not per node
    with wf._made_in_one_call():
        wf.input("task", required=True, description="The task every source node starts from.")
        actor_of = cast_of(action)
        critic_of = None if critic is None else cast_of(critic, "critics")
        merge = _merge_join(join, reducer)
        names = [f"n{i}" for i in range(n)]
        reviewed = 0
        # arguments per actor, worked out once; the actor is held so that its id stays its own
        shaped: dict[tuple[int, bool], tuple[Any, Mapping[str, Any]]] = {}
        actors = [actor_of(names[i], i) for i in range(n)]  # reversed, a node's come later
        fed = Feeding(actors, names, _reducer_of(merge))
        for i in range(n):
            incoming = sorted(preds[i])
            actor = actors[i]
            args = with_
            if args is None:
                key = (id(actor), bool(incoming))
                if key not in shaped:
                    shaped[key] = (actor, node_arguments(actor, has_inputs=bool(incoming)))
                args = shaped[key][1]
                fed.check(i, args, incoming)
            sources = [] if critic_of is not None else [names[p] for p in incoming]
            place(
                wf,
                names[i],
                actor,
                with_=args,
                after=sources,
                join=merge if len(incoming) > 1 else None,
            )
            if critic_of is not None:
                for p in incoming:
                    reviewer = critic_of(f"{names[p]}->{names[i]}", reviewed)
                    wf.edge(names[p], names[i], critic=reviewer, max_rounds=max_rounds)
                    reviewed += 1
    return wf


def _reducer_of(join: JoinSpec | str | None) -> str:
    """The reducer name of a merge node's join (``list`` unless one is named)."""
    return join.reducer if isinstance(join, JoinSpec) else "list"


def _merge_join(join: JoinSpec | str | None, reducer: str | None) -> JoinSpec | str | None:
    """The join of merge nodes: ``join`` as given, with ``reducer`` when one is named."""
    if reducer is None:
        return join
    if isinstance(join, JoinSpec):
        return join.model_copy(update={"reducer": reducer})
    return JoinSpec(mode=JoinMode(join or "all"), reducer=reducer)


def chain(
    n: int, action: Cast, *, name: str = "chain", **options: Unpack[TopologyOptions]
) -> Workflow:
    """``n0 → n1 → … → n{n-1}``: each node refines its predecessor's artifact."""
    return from_edges(n, ((i, i + 1) for i in range(n - 1)), action, name=name, **options)


def star(
    n: int, action: Cast, *, name: str = "star", **options: Unpack[TopologyOptions]
) -> Workflow:
    """Hub ``n0`` fans out to the leaves ``n1..n{n-1}``, which are the sinks (the outputs).

    With ``reverse=True`` the leaves are the sources and join into the hub,
    which reduces their artifacts with ``join`` (MacNet's star read inward).
    """
    return from_edges(n, ((0, i) for i in range(1, n)), action, name=name, **options)


def tree(
    branching: int,
    depth: int,
    action: Cast,
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
    return from_edges(n, _tree_edges(n, branching), action, name=name, **options)


def _tree_edges(n: int, branching: int) -> Iterable[tuple[int, int]]:
    """The edges of the first ``n`` nodes of a ``branching``-ary tree numbered breadth first."""
    edges = ((i, branching * i + k) for i in range(n) for k in range(1, branching + 1))
    return ((i, j) for i, j in edges if j < n)


def mesh(
    n: int, action: Cast, *, name: str = "mesh", **options: Unpack[TopologyOptions]
) -> Workflow:
    """The complete DAG: ``n_i → n_j`` for every ``i < j``."""
    return from_edges(
        n, ((i, j) for i in range(n) for j in range(i + 1, n)), action, name=name, **options
    )


def layered(
    layers: int,
    width: int,
    action: Cast,
    *,
    name: str = "layered",
    **options: Unpack[TopologyOptions],
) -> Workflow:
    """``layers`` layers of ``width`` nodes, each node feeding every node of the next layer.

    Nodes are numbered layer by layer: layer ``L`` holds ``n{L*width} ..``.
    """
    if layers < 1 or width < 1:
        raise ValueError("layered needs layers >= 1 and width >= 1")
    n = layers * width
    return from_edges(n, _layered_edges(n, width), action, name=name, **options)


def _layered_edges(n: int, width: int) -> Iterable[tuple[int, int]]:
    """Nodes ``0..n-1`` in layers of ``width`` (the last may be narrower), each node feeding
    every node of the next layer."""
    return (
        (a, b)
        for a in range(n)
        for b in range((a // width + 1) * width, min((a // width + 2) * width, n))
    )


def random_dag(
    n: int,
    p: float,
    action: Cast,
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
    action: Cast,
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
    action: Cast,
    *,
    seed: int | None = None,
    name: str = "scale_free",
    **options: Unpack[TopologyOptions],
) -> Workflow:
    """Barabási-Albert: each new node attaches to ``m`` existing ones by preferential attachment."""
    graph = nx.barabasi_albert_graph(n, m, seed=seed)
    return _from_graph(graph, n, action, name=name, **options)


def _from_graph(
    graph: nx.Graph, n: int, action: Cast, *, name: str, **options: Unpack[TopologyOptions]
) -> Workflow:
    edges = ((min(u, v), max(u, v)) for u, v in graph.edges())
    return from_edges(n, edges, action, name=name, **options)


#: The kinds ``generate`` (and ``weft topology``) knows, spelled as the docs and
#: ``weft topology --help`` spell them. ``small_world`` and ``scale_free`` (the names
#: of the Python generators) are accepted as input too: see ``canonical_kind``.
KINDS = ("chain", "star", "tree", "mesh", "layered", "random", "small-world", "scale-free")


def canonical_kind(kind: str) -> str:
    """``kind`` as ``KINDS`` spells it, or ``ValueError`` naming the known kinds.

    One spelling is printed and written (a generated workflow's default name, the
    CLI's messages); an underscore in place of a hyphen is taken as the same kind,
    since the Python generators are ``small_world`` and ``scale_free``.
    """
    spelled = kind.replace("_", "-")
    if spelled not in KINDS:
        raise ValueError(f"unknown topology '{kind}'; choose one of: {', '.join(KINDS)}")
    return spelled


def generate(
    kind: str,
    n: int,
    action: Cast,
    *,
    seed: int | None = None,
    p: float | None = None,
    k: int | None = None,
    m: int | None = None,
    branching: int = 2,
    width: int | None = None,
    name: str | None = None,
    **options: Unpack[TopologyOptions],
) -> Workflow:
    """A topology of ``kind`` with exactly ``n`` nodes (``weft topology KIND --nodes N``).

    ``kind`` is one of ``KINDS`` (``small_world`` for ``small-world`` is accepted);
    the workflow is named after it as ``KINDS`` spells it unless ``name`` is given.

    Shape parameters default to small, MacNet-like values: ``p`` 0.3 for
    random and 0.1 (rewiring) for small-world, ``k`` 4 neighbours, ``m`` 2
    attachments, a binary tree (the first ``n`` nodes of it, breadth first),
    layers ``width`` wide (default: about the square root of ``n``; the last
    layer takes what is left). ``k`` and ``m`` shrink to fit a small ``n``.
    """
    kind = canonical_kind(kind)
    if n < 1:
        raise ValueError(f"a topology needs at least one node, got n={n}")
    label = name or kind
    if kind == "chain":
        return chain(n, action, name=label, **options)
    if kind == "star":
        return star(n, action, name=label, **options)
    if kind == "mesh":
        return mesh(n, action, name=label, **options)
    if kind == "tree":
        if branching < 1:
            raise ValueError("a tree needs branching >= 1")
        return from_edges(n, _tree_edges(n, branching), action, name=label, **options)
    if kind == "layered":
        size = width or max(1, round(n**0.5))
        return from_edges(n, _layered_edges(n, size), action, name=label, **options)
    if kind == "random":
        return random_dag(n, 0.3 if p is None else p, action, seed=seed, name=label, **options)
    if kind == "small-world":
        near = min(4 if k is None else k, n - 1)
        rewire = 0.1 if p is None else p
        return small_world(n, near, rewire, action, seed=seed, name=label, **options)
    links = min(2 if m is None else m, n - 1)
    if links < 1:  # one node: nothing to attach to
        return from_edges(n, (), action, name=label, **options)
    return scale_free(n, links, action, seed=seed, name=label, **options)


__all__ = [
    "KINDS",
    "canonical_kind",
    "chain",
    "from_edges",
    "generate",
    "layered",
    "mesh",
    "random_dag",
    "scale_free",
    "small_world",
    "star",
    "tree",
]
