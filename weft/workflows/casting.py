"""Who plays each node and edge of a generated topology: MacNet's agent per node.

A topology generator (``weft.workflows.topologies``) takes one *cast* for its
nodes and, optionally, one for the critics on its edges:

- one action (an ``Action``, a function, a ``Workflow`` or a name) plays every node;
- a list (or tuple) of them is cycled: node ``i`` gets ``cast[i % len(cast)]``;
- ``per_node(factory)`` calls ``factory(node_id, position)`` once per node
  (``position`` is the node's index, ``n{position}`` its id) and uses what it
  returns; a bare function is not taken as a factory, because a function is
  also an action (a ``@tool``), so the wrapper says which is meant;
- ``Capability("translate Spanish to English")`` (alone, in a list, or from a
  factory) makes a capability node: the run's router picks its agent.

What a node is given also depends on who plays it. An actor that takes
``task`` and ``context`` (an ``LLMAgent``, a capability node) gets the
workflow's task everywhere and, below a source, its predecessors' artifacts
as ``context``: the node sees the task and its direct predecessors' work,
never the whole path (MacNet's memory control). Any other actor gets the
task at a source and the join of its predecessors' artifacts below one: in
its one input, or, for an actor of several inputs, as its arguments by key.
``Feeding`` refuses a node that its actors say cannot be fed that way
(``_feeding``), naming the node and the inputs, before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from weft.protocols import ActionSpec
from weft.workflows._callables import preview_spec
from weft.workflows._feeding import feeding_problem, one_input
from weft.workflows.builder import ActionLike, Workflow


@dataclass(frozen=True)
class Capability:
    """A node played by whichever agent the run's router picks for ``text``."""

    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a capability needs a description, got an empty one")


#: ``factory(node_id, position)``: the actor (or ``Capability``) of one node.
NodeFactory = Callable[[str, int], Any]


@dataclass(frozen=True)
class PerNode:
    """A cast made node by node: ``factory(node_id, position)`` (see ``per_node``)."""

    factory: NodeFactory


def per_node(factory: NodeFactory) -> PerNode:
    """Mark ``factory(node_id, position) -> action | Capability`` as a per-node cast."""
    if not callable(factory):
        raise TypeError(f"per_node needs a callable, got {type(factory).__name__}")
    return PerNode(factory)


#: What a generator accepts for its nodes (or its critics): see the module docstring.
Cast = Any


def cast_of(cast: Cast, what: str = "actors") -> NodeFactory:
    """The cast as one function ``(node_id, position) -> actor``."""
    if isinstance(cast, PerNode):
        return cast.factory
    if isinstance(cast, list | tuple):
        members = list(cast)
        if not members:
            raise ValueError(f"the list of {what} is empty")
        return lambda _node, position: members[position % len(members)]
    return lambda _node, _position: cast


#: An actor that takes these parameters is given the task and its predecessors' work apart.
TASK_AND_CONTEXT = ("task", "context")

TASK_REF = "${inputs.task}"


def node_arguments(actor: ActionLike | Capability, *, has_inputs: bool) -> dict[str, Any]:
    """The ``with`` of a generated node played by ``actor`` (see the module docstring)."""
    spec = None if isinstance(actor, Capability) else spec_of(actor)
    properties = (spec.input_schema.get("properties") or {}) if spec is not None else {}
    if isinstance(actor, Capability) or all(p in properties for p in TASK_AND_CONTEXT):
        return {"task": TASK_REF, "context": "${input}"} if has_inputs else {"task": TASK_REF}
    if has_inputs:
        return {}  # the join of the predecessors goes to the action's one parameter
    if spec is not None and not properties:
        return {}  # an actor of no input: the task is not for it
    return {entry_parameter(spec): TASK_REF}


class Feeding:
    """Checks, node by node, that a generated node's actor can be fed (``_feeding``).

    What each actor declares is read once (``spec_of``), and only an actor of
    several inputs is checked against its predecessors: a topology of one-input
    actors (the usual case, and a 10,000-node mesh) costs a dict look-up per node.
    """

    def __init__(self, actors: Sequence[Any], names: Sequence[str], reducer: str) -> None:
        self._actors = actors
        self._names = names
        self._reducer = reducer
        self._specs: dict[int, ActionSpec | None] = {}
        self._checked: set[tuple[int, bool]] = set()

    def _spec(self, actor: Any) -> ActionSpec | None:
        key = id(actor)
        if key not in self._specs:
            self._specs[key] = None if isinstance(actor, Capability) else spec_of(actor)
        return self._specs[key]

    def check(self, index: int, with_: Mapping[str, Any], incoming: Sequence[int]) -> None:
        """Raise ``ValueError`` (one line: the node, the inputs it cannot fill) when node
        ``index``, given ``with_`` and fed by ``incoming``, cannot be fed."""
        actor = self._actors[index]
        once = (id(actor), bool(incoming))
        if once in self._checked:
            return  # a source, or an actor of one input: the same answer as before
        spec = self._spec(actor)
        properties = (spec.input_schema.get("properties") or {}) if spec is not None else {}
        if spec is None or all(p in properties for p in TASK_AND_CONTEXT):
            self._checked.add(once)
            return
        if incoming and (with_ or one_input(spec.input_schema) is not None):
            self._checked.add(once)
            return
        sources = [(self._names[i], self._spec(self._actors[i])) for i in incoming]
        problem = feeding_problem(self._names[index], spec, with_, sources, self._reducer)
        if problem is not None:
            raise ValueError(problem)
        if not incoming:
            self._checked.add(once)


def spec_of(actor: ActionLike) -> ActionSpec | None:
    """What ``actor`` declares of itself, or None for a name (resolved at run time)."""
    if isinstance(actor, Workflow):
        return actor.as_action_spec()
    if hasattr(actor, "spec"):
        spec: ActionSpec = actor.spec
        return spec
    if callable(actor):
        try:
            return preview_spec(actor)
        except TypeError:  # ``Workflow.node`` reports it, with the node's name
            return None
    return None


def entry_parameter(spec: ActionSpec | None) -> str:
    """The parameter a source node fills with the task: the action's only (required) one."""
    if spec is None:
        return "task"
    schema: Mapping[str, Any] = spec.input_schema
    required = list(schema.get("required") or [])
    if len(required) == 1:
        return str(required[0])
    properties = list(schema.get("properties") or {})
    if len(properties) == 1:
        return str(properties[0])
    return "task"


def place(
    wf: Workflow,
    name: str,
    actor: ActionLike | Capability,
    *,
    with_: Mapping[str, Any],
    after: Sequence[str],
    join: Any,
) -> None:
    """Add node ``name`` played by ``actor`` to ``wf``."""
    if isinstance(actor, Capability):
        wf.node(name, capability=actor.text, with_=with_, after=list(after), join=join)
    else:
        wf.node(name, actor, with_=with_, after=list(after), join=join)


def relay(task: str, context: Any = None) -> str:
    """Pass the task on unchanged: a no-op actor, to try a topology's shape and overhead."""
    return task


__all__ = [
    "Capability",
    "Cast",
    "Feeding",
    "NodeFactory",
    "PerNode",
    "cast_of",
    "node_arguments",
    "per_node",
    "place",
    "relay",
]
