"""The graph stage on the parts of a definition that passed the field checks.

A definition whose fields are wrong (an unknown field, a value of the wrong
type, a node without an action) cannot become a ``WorkflowSpec``, so
``validate`` never sees it, and a user fixing the file would meet its graph
problems (an ``after:`` naming no node, a cycle without a bound) only on the
next run. ``later_problems`` builds a *salvaged* spec instead, from what
passed: every field without a problem is kept, a node whose own fields fail
keeps its name (so references to it are not reported as unknown) and the
fields that passed, and the graph, reference, condition and join checks run
on that.

What is left out is what would only follow from a problem already reported:

- a node that lost its ``after`` (or ``foreach``) to a field problem has an
  unknown set of predecessors, so what its ``with`` may name, whether it has
  an ``${input}`` and how many edges a quorum may wait for are not judged;
- once any edge is lost, "sets max_iterations but closes no cycle" is not
  reported: the lost edge may be the one that closes it;
- a node whose name is not a valid name is left out with its edges (its name
  is reported), and an edge from it is not reported as an edge from an
  unknown node;
- an input or action whose entry fails keeps its name.

pydantic says a node lacks an action, and checks node names, only once the
node's fields (or all nodes) passed; both are said here otherwise.

Actions are checked here when the caller knows them (the builder, whose
actions are its own objects). A YAML file's actions are loaded by the runtime:
the loader hands it what passed as a ``Partial`` (on the ``IncompleteDefinition``
it raises), and the runtime loads the ``actions:`` entries that passed and asks
``Partial.action_problems``. At a node whose fields failed, an action problem
is reported only when the fields it depends on passed (``_DEPENDS``: an
unknown parameter in a ``with`` that passed, beside a bad ``timeout``); at a
node whose action could not be had (an ``actions:`` entry that failed, or
that the runtime could not load), its action and arguments are not judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from weft.protocols import ActionSpec, DefinitionError, NodeSpec, WorkflowSpec, locate
from weft.protocols.hints import close_names
from weft.protocols.source import Path
from weft.protocols.workflow import check_name
from weft.workflows.graph import Problem
from weft.workflows.validate import check_actions, collect_problems

#: Top-level fields that are mappings of named entries: a failing entry is left out
#: (``inputs`` keep the name, so a ``${inputs.NAME}`` is not reported as undeclared).
_ENTRY_FIELDS = frozenset({"inputs", "outputs", "actions", "action_concurrency"})


def _aliases(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(info.alias or name for name, info in model.model_fields.items())


_TOP_FIELDS = _aliases(WorkflowSpec)
_NODE_FIELDS = _aliases(NodeSpec)


@dataclass
class _Salvage:
    """What was kept, and what was lost that later checks must not judge."""

    nodes: dict[str, NodeSpec] = field(default_factory=dict)
    #: The fields that failed, by node: ``""`` for the node as a whole (no action that
    #: passed); an empty set for a node kept by its name only (not a mapping).
    failed: dict[str, set[str]] = field(default_factory=dict)
    #: Nodes whose predecessors or ``foreach`` are not fully known.
    unsure: set[str] = field(default_factory=set)
    #: Nodes with neither action nor capability, which pydantic has not said yet.
    missing_action: set[str] = field(default_factory=set)
    #: Node names that are not valid names: edges from them are not reported.
    invalid_names: set[str] = field(default_factory=set)
    edges_lost: bool = False


@dataclass(frozen=True)
class Partial:
    """What passed of a definition that failed, for the stage that loads its actions.

    ``spec`` is the salvaged spec (located: ``spec.source``); ``failed`` the
    fields that failed, by node (see ``_Salvage.failed``); ``lost_actions``
    the ``actions:`` entries that failed (their names stand, so a node naming
    one is not told its action is unknown). Without ``actions_judged`` (the
    ``actions:`` or ``python_path`` section failed as a whole) no action is
    loaded or judged: any name might have been declared there.
    """

    spec: WorkflowSpec
    failed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    lost_actions: frozenset[str] = frozenset()
    actions_judged: bool = True

    def action_problems(
        self, actions: Mapping[str, ActionSpec], unloaded: Iterable[str] = ()
    ) -> list[Problem]:
        """The problems of node actions, critics and arguments against ``actions``, less
        what only follows from a problem already reported: ``unloaded`` are action names
        the caller could not load (reported by it), treated as ``lost_actions`` are."""
        if not self.actions_judged:
            return []
        gone = self.lost_actions | frozenset(unloaded)
        known = dict(actions)
        known.update((name, ActionSpec(name=name)) for name in gone if name not in known)
        failed = {name: set(fields) for name, fields in self.failed.items()}
        for name, node in self.spec.nodes.items():
            if node.capability is None and node.action in gone:
                lost = failed.get(name)
                if lost is None or lost:  # an empty set (kept by its name) judges nothing
                    failed[name] = (lost or set()) | {"action"}
        try:
            check_actions(self.spec, known)
        except DefinitionError as exc:
            return [p for p in exc.problems if _judged(p, failed)]
        return []


class IncompleteDefinition(DefinitionError):
    """The ``DefinitionError`` of a file whose fields failed, with what passed (``partial``):
    the runtime adds the problems of loading its actions (``compile_workflow``)."""

    def __init__(self, problems: list[Problem], partial: Partial | None) -> None:
        super().__init__(problems)
        self.partial = partial


class Salvaged(NamedTuple):
    """``salvage_spec``'s answer: the graph's problems, and what passed (None: too little)."""

    problems: list[Problem]
    partial: Partial | None


def error_paths(exc: ValidationError, prefix: Path = ()) -> list[Path]:
    """The path (from the document root) of every error in ``exc``."""
    return [(*prefix, *err["loc"]) for err in exc.errors()]


def later_problems(
    data: Mapping[str, Any],
    bad: Iterable[Path],
    source: Any,
    actions: Mapping[str, ActionSpec] | None = None,
) -> list[Problem]:
    """The graph and reference problems of what passed in ``data`` (see the module docstring).

    ``data`` is the definition as given to ``WorkflowSpec.model_validate``
    (a node may already be a ``NodeSpec``); ``bad`` the paths of the field
    problems found in it; ``source`` locates problems (a ``SourceMap`` or the
    builder's call sites). With ``actions`` (the builder knows its own), the
    actions are checked too: a node whose fields failed only for its action
    name and its critics. Empty when too little passed to check a graph.
    """
    problems, partial = salvage_spec(data, bad, source)
    if actions is not None and partial is not None:
        problems.extend(partial.action_problems(actions))
    return problems


def salvage_spec(data: Mapping[str, Any], bad: Iterable[Path], source: Any) -> Salvaged:
    """``later_problems`` without the actions: the graph's problems and, when a graph
    could be built, the ``Partial`` for the stage that loads the actions."""
    bad = list(bad)
    nodes = data.get("nodes")
    if not isinstance(nodes, Mapping) or not nodes:
        return Salvaged([], None)
    salvage = _Salvage()
    for name, raw in nodes.items():
        _salvage_node(salvage, str(name), raw, [p[2:] for p in bad if p[:2] == ("nodes", name)])
    problems: list[Problem] = []
    # pydantic checks node names only once every node passed: say it here (once: in_file_order)
    for name in salvage.invalid_names:
        try:
            check_name(name, "node")
        except ValueError as exc:
            problems.append((str(exc), locate(source, ("nodes", name), node=name)))
    for name in salvage.missing_action:
        where = locate(source, ("nodes", name), node=name)
        problems.append(("missing required field 'action' (or 'capability')", where))
    top, lost_actions = _salvage_top(data, bad)
    top["nodes"] = salvage.nodes
    try:
        spec = WorkflowSpec.model_validate(top)
    except ValidationError:  # no node passed (the rest was left out above)
        return Salvaged(problems, None)
    spec._source = source
    found = collect_problems(
        spec, None, unsure=frozenset(salvage.unsure), edges_lost=salvage.edges_lost
    )
    problems.extend(p for p in found if not _from_invalid_name(p, salvage.invalid_names))
    whole = {p[0] for p in bad if len(p) == 1}  # a section that failed as a whole
    partial = Partial(
        spec,
        {name: frozenset(fields) for name, fields in salvage.failed.items()},
        lost_actions,
        actions_judged=not whole & {"actions", "python_path"},
    )
    return Salvaged(problems, partial)


#: What an action problem at a node depends on, by the field it names: it is judged
#: only when all of these passed ("" is the node as a whole, its action or capability).
_DEPENDS: dict[str, frozenset[str]] = {
    "action": frozenset({"", "action"}),
    "critic": frozenset({"after"}),
    "with": frozenset({"", "action", "with", "after"}),  # an empty 'with' takes ${input}
    "after": frozenset({"", "action", "with", "after", "join"}),
}


def _judged(problem: Problem, failed: Mapping[str, set[str]]) -> bool:
    """Whether an action problem stands on its own: at a node whose fields failed, only
    when what it depends on passed (``_DEPENDS``); never at a node kept by its name only."""
    where = problem[1]
    lost = failed.get(where.node or "")
    if lost is None:
        return True
    if not lost or where.field is None:
        return False
    head = where.field.split(".")[0]
    if head == "after" and where.field.endswith(".critic"):
        head = "critic"
    depends = _DEPENDS.get(head)
    return depends is not None and not depends & lost


#: What an unknown node field unlike any known one may have been meant to give the node.
_ANY_MEANT = frozenset({"after", "foreach", "with"})


def _meant(key: str) -> frozenset[str]:
    """The fields a failed node field stands for: itself; for an unknown field, the field
    it is close to (``afterr``: the node's ``after`` is unknown) or, when it is close to
    none, any that would change what the node's arguments and references are judged by."""
    if key in _NODE_FIELDS or not key:
        return frozenset({key})
    close = close_names(key, sorted(_NODE_FIELDS))
    return frozenset(close) if close else _ANY_MEANT


def _from_invalid_name(problem: Problem, names: set[str]) -> bool:
    message = problem[0]
    return any(message.startswith(f"edge from unknown node '{name}'") for name in names)


def _salvage_top(data: Mapping[str, Any], bad: list[Path]) -> tuple[dict[str, Any], frozenset[str]]:
    """The top-level fields that passed (a mapping of entries keeps the entries that did),
    and the names of the ``actions:`` entries that failed."""
    top: dict[str, Any] = {"name": "workflow"}  # a placeholder if the name itself failed
    lost_actions: frozenset[str] = frozenset()
    failed = {p[0] for p in bad if p}
    for key, value in data.items():
        if key == "nodes" or key not in _TOP_FIELDS:
            continue
        if key not in failed:
            top[key] = value
        elif key in _ENTRY_FIELDS and isinstance(value, Mapping):
            entries = {p[1] for p in bad if len(p) >= 2 and p[0] == key}
            if any(len(p) == 1 and p[0] == key for p in bad):
                continue  # the mapping as a whole failed (a bad key)
            kept = {k: v for k, v in value.items() if k not in entries}
            if key == "inputs":
                kept.update({k: {} for k in value if k in entries})
            if key == "actions":
                lost_actions = frozenset(str(k) for k in value if k in entries)
            top[key] = kept
    return top, lost_actions


def _salvage_node(salvage: _Salvage, name: str, raw: Any, bad: list[Path]) -> None:
    try:
        check_name(name, "node")
    except ValueError:
        salvage.invalid_names.add(name)
        return
    if not bad:
        if isinstance(raw, NodeSpec):
            salvage.nodes[name] = raw
            return
        try:
            salvage.nodes[name] = NodeSpec.model_validate(raw)
            return
        except ValidationError:  # pragma: no cover - it failed with the rest, then
            bad = [()]
    if not isinstance(raw, Mapping):  # kept by its name only
        salvage.failed[name] = set()
        salvage.nodes[name] = NodeSpec(action="_")
        salvage.unsure.add(name)
        salvage.edges_lost = True
        return
    failed = {str(p[0]) for p in bad if p}
    fields = {k: v for k, v in raw.items() if k in _NODE_FIELDS and k not in failed}
    if () in bad or not (fields.get("action") or fields.get("capability")):
        if () not in bad and not {"action", "capability"} & failed and name not in _NODE_FIELDS:
            # pydantic checks for an action only once every field passed: say it now (not
            # for a field indented as a node: its problems already say so)
            salvage.missing_action.add(name)
        failed.add("")  # the node has no action that passed: it is not judged
        fields.pop("capability", None)
        fields["action"] = "_"
    lost = {meant for key in failed for meant in _meant(key)}
    salvage.failed[name] = lost
    if "after" in lost or "foreach" in lost:
        salvage.unsure.add(name)
    salvage.edges_lost = salvage.edges_lost or "after" in lost
    try:
        salvage.nodes[name] = NodeSpec.model_validate(fields)
    except ValidationError:  # pragma: no cover - only fields that passed are left
        salvage.nodes[name] = NodeSpec(action="_")
        salvage.failed[name] = set()
        salvage.unsure.add(name)
        salvage.edges_lost = True
