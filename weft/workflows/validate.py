"""Whole-definition checks: everything that needs more than one field to see.

``validate`` collects *every* problem into one ``DefinitionError``, in file
order and each once, so that a user fixes a file in one pass; each problem
carries the YAML line and column when the spec came from a file
(``spec.source``), and always the node and field.

What is checked:

- the graph: edges to unknown nodes, repeated edges, cycles without
  ``max_iterations``, loop edges that close no cycle (see ``graph.py``);
- ``${...}`` references in ``with``, ``foreach`` and ``outputs``: well formed,
  and naming something the node can see. Data flows only along edges, so a
  node sees ``inputs``, ``iteration``, its *direct* predecessors (forward or
  loop edges), ``input`` when it has a predecessor, and ``item``/``index`` when
  it has ``foreach``. ``outputs`` may name any node;
- ``when`` conditions compile; join reducers are known names or
  ``'module:function'``; a quorum is not larger than the node's in-degree;
- when ``actions`` is given: node actions, edge critics and
  ``action_concurrency`` keys name a known action, and literal arguments fit
  the action's input schema.

**Implicit input.** A node with predecessors and an empty ``with`` gets its
arguments from ``${input}`` at run time: the executor passes ``${input}`` to
the action's single required parameter (or its only parameter), and otherwise
spreads a dict ``${input}`` as the arguments. Such a node is therefore never
reported as missing arguments; only what it can be known to lack is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from weft.protocols import ActionSpec, JoinMode, NodeSpec, WorkflowSpec, locate
from weft.protocols.errors import DefinitionError
from weft.protocols.hints import did_you_mean
from weft.protocols.source import Path
from weft.workflows._literal_arguments import literal_problem
from weft.workflows.expressions import (
    REFERENCE_RE,
    SCOPE_NAMES,
    Condition,
    ExpressionError,
    parse_reference,
)
from weft.workflows.graph import GraphPlan, Problem, in_file_order, plan_graph
from weft.workflows.reducers import is_reducer_name, unknown_reducer_message

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def validate(spec: WorkflowSpec, actions: Mapping[str, ActionSpec] | None = None) -> GraphPlan:
    """Check ``spec`` as a whole and return its ``GraphPlan``.

    ``actions`` are the action specs available at run time; without it, action
    names and arguments are not checked (a registry may supply them later).
    Names declared in the workflow's own ``actions:`` section count as known
    even when they are missing from ``actions`` (their schemas are then not
    checked). Raises ``DefinitionError`` with all problems found.
    """
    plan, problems = plan_graph(spec)
    checker = _Checker(spec, actions)
    checker.run()
    problems.extend(checker.problems)
    if problems or plan is None:
        raise DefinitionError(in_file_order(problems))
    return plan


def collect_problems(
    spec: WorkflowSpec,
    actions: Mapping[str, ActionSpec] | None,
    *,
    unsure: frozenset[str] = frozenset(),
    edges_lost: bool = False,
) -> list[Problem]:
    """What ``validate`` would raise, as a list, for a spec salvaged from a broken one.

    ``unsure`` are nodes whose predecessors or ``foreach`` are not fully known:
    what their references may name and their quorum are not judged. With
    ``edges_lost``, a loop edge that closes no cycle is not reported (the lost
    edge may close it). See ``_salvage``.
    """
    _, problems = plan_graph(spec, loop_exits=not edges_lost)
    checker = _Checker(spec, actions, unsure=unsure)
    checker.run()
    problems.extend(checker.problems)
    return problems


def check_actions(spec: WorkflowSpec, actions: Mapping[str, ActionSpec]) -> None:
    """The checks of ``validate`` that depend on ``actions``, and only those.

    For a spec that has already passed ``validate`` with other action specs
    (the builder's own, before the runtime resolves the real actions): the
    graph, references, conditions, joins and outputs do not depend on
    ``actions``, so they cannot fail now, and checking them again would cost
    as much as the first time on a large graph. Reports exactly what
    ``validate(spec, actions)`` would, in the same order. Raises
    ``DefinitionError`` with all problems found.
    """
    checker = _Checker(spec, actions)
    checker.run_actions()
    if checker.problems:
        raise DefinitionError(in_file_order(checker.problems))


def _walk(value: Any, path: Path) -> Iterator[tuple[str, Path]]:
    """Every string inside ``value`` (dicts and lists, recursively) with its YAML path."""
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*path, i))


def _short(text: str, limit: int = 40) -> str:
    """``text`` on one line, cut to ``limit`` characters, for a hint that quotes it."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _has_reference(value: Any) -> bool:
    return any("${" in text for text, _ in _walk(value, ()))


def _matches_type(value: Any, schema: Mapping[str, Any]) -> bool:
    """A shallow JSON-type check of a literal against a property schema; unknown shapes pass."""
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        for name in types:
            expected = _JSON_TYPES.get(name)
            if expected is None:
                return True
            if isinstance(value, bool) and name in ("integer", "number"):
                continue
            if isinstance(value, expected):
                return True
        return False
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        return any(_matches_type(value, option) for option in options)
    return True


class _Checker:
    """Collects problems; one method per kind of check, all on the same spec."""

    def __init__(
        self,
        spec: WorkflowSpec,
        actions: Mapping[str, ActionSpec] | None,
        *,
        unsure: frozenset[str] = frozenset(),
    ) -> None:
        self.spec = spec
        self.unsure = unsure
        self.actions = actions
        self.source = spec.source
        self.node_names = set(spec.nodes)
        self.problems: list[Problem] = []
        self._parsed: dict[str, tuple[bool, list[tuple[str, ...] | ExpressionError]]] = {}

    def add(self, message: str, path: Path, node: str | None, field: str | None) -> None:
        self.problems.append((message, locate(self.source, path, node=node, field_name=field)))

    def run(self) -> None:
        for name, node in self.spec.nodes.items():
            if name in SCOPE_NAMES:
                reserved = ", ".join(sorted(SCOPE_NAMES))
                self.add(
                    f"node name '{name}' is reserved for references ({reserved})",
                    ("nodes", name),
                    name,
                    None,
                )
            self.check_node(name, node)
        self.check_outputs()
        if self.actions is not None:
            self.check_action_concurrency()

    def run_actions(self) -> None:
        """What ``run`` checks against ``self.actions``, in the same order (``check_actions``)."""
        if self.actions is None:
            return
        for name, node in self.spec.nodes.items():
            self.check_action(name, node)
        self.check_action_concurrency()

    # -- per node --------------------------------------------------------------

    def check_node(self, name: str, node: NodeSpec) -> None:
        predecessors = {edge.node for edge in node.after}
        base: Path = ("nodes", name)
        if isinstance(node.foreach, list):  # a literal list: references inside, per element
            for text, path in _walk(node.foreach, (*base, "foreach")):
                self.check_text(text, path, name, predecessors, in_foreach=None)
        elif node.foreach is not None:
            path = (*base, "foreach")
            if REFERENCE_RE.fullmatch(node.foreach) is None:
                self.add(
                    f"foreach must be a single ${{...}} reference to a list or a literal list "
                    f"(foreach: [a, b] or foreach: ${{inputs.files}}), got {node.foreach!r}",
                    path,
                    name,
                    "foreach",
                )
            else:
                self.check_text(node.foreach, path, name, predecessors, in_foreach=None)
        for text, path in _walk(node.with_, (*base, "with")):
            self.check_text(text, path, name, predecessors, in_foreach=node.foreach is not None)
        for i, edge in enumerate(node.after):
            if edge.when is not None:
                try:
                    Condition(edge.when)
                except ExpressionError as exc:
                    self.add(str(exc), (*base, "after", i, "when"), name, f"after.{i}.when")
        if node.join is not None:
            self.check_join(name, node)
        if self.actions is not None:
            self.check_action(name, node)

    def check_text(
        self,
        text: str,
        path: Path,
        node: str,
        predecessors: set[str],
        *,
        in_foreach: bool | None,
    ) -> None:
        """``in_foreach`` is None for the ``foreach`` expression itself."""
        if "${" not in text:
            return
        field = ".".join(str(p) for p in path[2:])
        unclosed, refs = self.parsed(text)
        if unclosed:
            self.add(f"unclosed or nested '${{' in {text!r}", path, node, field)
        for ref in refs:
            if isinstance(ref, ExpressionError):
                self.add(str(ref), path, node, field)
                continue
            message = self.reference_problem(ref, node, predecessors, in_foreach=in_foreach)
            if message is not None:
                self.add(message, path, node, field)

    def parsed(self, text: str) -> tuple[bool, list[tuple[str, ...] | ExpressionError]]:
        """Whether ``text`` has an unclosed ``${``, and its references parsed (or the error),
        once per distinct text: generated graphs repeat the same few templates on every node."""
        found = self._parsed.get(text)
        if found is None:
            refs: list[tuple[str, ...] | ExpressionError] = []
            for match in REFERENCE_RE.finditer(text):
                try:
                    refs.append(parse_reference(match.group(1)))
                except ExpressionError as exc:
                    refs.append(exc)
            found = self._parsed[text] = ("${" in REFERENCE_RE.sub("", text), refs)
        return found

    def reference_problem(
        self, ref: tuple[str, ...], node: str, predecessors: set[str], *, in_foreach: bool | None
    ) -> str | None:
        root = ref[0]
        shown = "${" + ".".join(ref) + "}"
        if root == "inputs":
            return self.input_problem(ref)
        if node in self.unsure:  # its after or foreach failed: what it sees is not known
            return None
        if root == "iteration":
            return None
        if root in ("item", "index"):
            if in_foreach:
                return None
            if in_foreach is None:
                return f"'{shown}': foreach reads its list before there is an '{root}'"
            return f"'{shown}': '{root}' is only available in the 'with' of a node with foreach"
        if root == "input":
            if predecessors:
                return None
            return f"'{shown}': node '{node}' has no incoming edge, so there is no input"
        if root in predecessors:
            return None
        if root in self.node_names:
            if any(edge.node not in self.node_names for edge in self.spec.nodes[node].after):
                return None  # its 'after' names an unknown node (reported): perhaps this one
            return (
                f"'{shown}': node '{root}' is not a direct predecessor of '{node}' "
                f"(data flows only along edges; add '{root}' to its 'after')"
            )
        visible = [*sorted(predecessors), "inputs", "iteration"]
        if predecessors:
            visible.append("input")
        if in_foreach:
            visible += ["item", "index"]
        return f"'{shown}': unknown name '{root}'{did_you_mean(root, visible)}; visible here: " + (
            ", ".join(visible)
        )

    def input_problem(self, ref: tuple[str, ...]) -> str | None:
        if len(ref) < 2 or not self.spec.inputs or ref[1] in self.spec.inputs:
            return None
        shown = "${" + ".".join(ref) + "}"
        declared = list(self.spec.inputs)
        return (
            f"'{shown}': unknown input '{ref[1]}'{did_you_mean(ref[1], declared)}; "
            f"declared inputs: {', '.join(declared)}"
        )

    def check_join(self, name: str, node: NodeSpec) -> None:
        assert node.join is not None
        path: Path = ("nodes", name, "join")
        if not is_reducer_name(node.join.reducer):
            self.add(
                unknown_reducer_message(node.join.reducer),
                (*path, "reducer"),
                name,
                "join.reducer",
            )
        count = node.join.count
        # loop edges re-run a node; they are not inputs a join waits for
        forward = sum(1 for edge in node.after if edge.max_iterations is None)
        if (
            node.join.mode is JoinMode.QUORUM
            and count is not None
            and count > forward
            and name not in self.unsure
        ):
            self.add(
                f"join quorum of {count} can never be met: the node has {forward} incoming edge(s)",
                (*path, "count"),
                name,
                "join.count",
            )

    # -- actions ---------------------------------------------------------------

    def declared_actions(self) -> set[str]:
        """Names the ``actions:`` section makes actions of. An MCP server's name is not
        one: its tools are (``<name>.<tool>``, among ``self.actions`` once listed)."""
        return {name for name, ref in self.spec.actions.items() if ref.mcp is None}

    def known_actions(self) -> list[str]:
        assert self.actions is not None
        return sorted(set(self.actions) | self.declared_actions())

    def unknown_action(self, action: str) -> str | None:
        assert self.actions is not None
        if action in self.actions or action in self.declared_actions():
            return None
        known = self.known_actions()
        hint = did_you_mean(action, known)
        listing = f"; known actions: {', '.join(known[:20])}" if known and not hint else ""
        if len(known) > 20 and listing:
            listing += ", ..."
        return f"unknown action '{action}'{hint}{listing}"

    def check_action(self, name: str, node: NodeSpec) -> None:
        assert self.actions is not None
        base: Path = ("nodes", name)
        # a capability node's action is chosen by the run's router: nothing to check yet
        message = None if node.capability is not None else self.unknown_action(node.action)
        if message is not None:
            self.add(message, (*base, "action"), name, "action")
        for i, edge in enumerate(node.after):
            if edge.critic is not None:
                message = self.unknown_action(edge.critic)
                if message is not None:
                    self.add(
                        f"critic: {message}",
                        (*base, "after", i, "critic"),
                        name,
                        f"after.{i}.critic",
                    )
        action = self.actions.get(node.action)
        if action is not None:
            self.check_arguments(name, node, action)

    def check_arguments(self, name: str, node: NodeSpec, action: ActionSpec) -> None:
        schema = action.input_schema
        properties: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = list(schema.get("required") or [])
        base: Path = ("nodes", name, "with")
        if schema.get("additionalProperties") is False:
            for key in node.with_:
                if key not in properties:
                    params = ", ".join(properties) or "none"
                    hint = (
                        " (an LLM agent takes a conversation_id when it keeps a session: "
                        "session=SQLiteSession(...), YAML 'session:')"
                        if key == "conversation_id" and action.kind == "agent"
                        else ""
                    )
                    self.add(
                        f"action '{action.name}' has no parameter '{key}'"
                        f"{did_you_mean(key, list(properties))}; parameters: {params}{hint}",
                        (*base, key),
                        name,
                        f"with.{key}",
                    )
        for key, value in node.with_.items():
            prop = properties.get(key)
            if (
                isinstance(prop, dict)
                and not _has_reference(value)
                and not _matches_type(value, prop)
            ):
                expected = _expected_type(prop)
                self.add(
                    f"argument '{key}' of action '{action.name}' should be {expected}, "
                    f"got {type(value).__name__} {value!r}",
                    (*base, key),
                    name,
                    f"with.{key}",
                )
            elif isinstance(prop, dict) and not _has_reference(value):
                broken = literal_problem(value, prop, schema)
                if broken is not None:
                    self.add(
                        f"argument '{key}' of action '{action.name}': {broken}",
                        (*base, key),
                        name,
                        f"with.{key}",
                    )
        if not node.with_ and node.after:
            if required and all(edge.max_iterations is not None for edge in node.after):
                self.add(
                    _first_pass_message(name, node, action, required),
                    ("nodes", name, "after"),
                    name,
                    "after",
                )
            elif message := _list_input_message(name, node, action):
                self.add(message, ("nodes", name, "after"), name, "after")
            return  # the executor builds the arguments from ${input}; see the module docstring
        missing = [r for r in required if r not in node.with_]
        if missing:
            # a CrewAI task's description is what its agent is asked; a node's is not sent
            told = (
                "; the node's 'description' documents it and is not sent: "
                f"give the task in 'with' (with: {{task: \"{_short(node.description)}\"}})"
                if "task" in missing and node.description
                else ""
            )
            self.add(
                f"action '{action.name}' is missing required argument(s): "
                f"{', '.join(missing)}{told}",
                base,
                name,
                "with",
            )

    def check_action_concurrency(self) -> None:
        for action in self.spec.action_concurrency:
            message = self.unknown_action(action)
            if message is not None:
                self.add(message, ("action_concurrency", action), None, "action_concurrency")

    # -- outputs ---------------------------------------------------------------

    def check_outputs(self) -> None:
        names = list(self.spec.nodes)
        for key, text in self.spec.outputs.items():
            path: Path = ("outputs", key)
            field = f"outputs.{key}"
            if "${" in REFERENCE_RE.sub("", text):
                self.add(f"unclosed or nested '${{' in {text!r}", path, None, field)
            for match in REFERENCE_RE.finditer(text):
                try:
                    ref = parse_reference(match.group(1))
                except ExpressionError as exc:
                    self.add(str(exc), path, None, field)
                    continue
                root = ref[0]
                if root == "inputs":
                    message = self.input_problem(ref)
                elif root in self.node_names:
                    message = None
                else:
                    message = (
                        f"output '{key}': '${{{'.'.join(ref)}}}' names no node"
                        f"{did_you_mean(root, names)}; outputs may refer to any node or to inputs"
                    )
                if message is not None:
                    self.add(message, path, None, field)


def _first_pass_message(name: str, node: NodeSpec, action: ActionSpec, required: list[str]) -> str:
    """A node fed by loop edges alone starts the run with no input at all.

    A loop edge delivers only from the loop's second pass on, so such a node
    is a start node: LangGraph users who put ``max_iterations`` on the
    conditional edge of a write → review → revise loop (instead of on the
    edge that goes back) meet this, and the run would fail on ``None``.
    """
    sources = ", ".join(f"'{edge.node}'" for edge in node.after)
    return (
        f"node '{name}' has only loop edges in 'after' (from {sources}), so it runs first, "
        f"before them, with no input, and action '{action.name}' needs argument(s) "
        f"{', '.join(required)}; "
        "set max_iterations on the edge that goes back to the start of the loop instead, "
        "or give the node 'with'"
    )


def _list_input_message(name: str, node: NodeSpec, action: ActionSpec) -> str | None:
    """A loop's target with no ``join`` and no ``with`` hands its action a list.

    The loop edge is an edge like any other to the join, so the default
    reducer makes ``${input}`` the list of what arrived, which the executor
    passes to the action's one parameter; when that parameter cannot take a
    list, every pass fails at run time. A LangGraph user expects a node with
    one edge in and a loop edge back to get "the latest" value, as a state
    key would, so this is said before the run. (Plain fan-in without a loop
    is left alone: generated topologies are validated before their actors
    are chosen for good.)
    """
    if node.join is not None or len(node.after) < 2:
        return None
    if not any(edge.max_iterations is not None for edge in node.after):
        return None
    schema = action.input_schema
    properties: dict[str, Any] = schema.get("properties") or {}
    required = list(schema.get("required") or [])
    param = required[0] if len(required) == 1 else next(iter(properties), None)
    if len(required) != 1 and len(properties) != 1:
        return None
    prop = properties.get(param) if param is not None else None
    if not isinstance(prop, dict) or _matches_type([], prop):
        return None
    sources = ", ".join(f"'{edge.node}'" for edge in node.after)
    return (
        f"node '{name}' has {len(node.after)} incoming edges ({sources}, a loop edge among "
        f"them) and no join, so its input is the list of what arrived, but action "
        f"'{action.name}' takes {param} as {_expected_type(prop)}; to take the newest, list "
        "the loop edge first in 'after' and set join: {reducer: first} (or set 'with')"
    )


def _expected_type(prop: dict[str, Any]) -> str:
    """What a parameter's schema accepts, in words: ``array or null`` for an optional
    list (``anyOf``, as pydantic writes ``list | None``), else the schema's type."""
    if "enum" in prop:
        return "one of " + ", ".join(repr(v) for v in prop["enum"])
    kind = prop.get("type")
    if isinstance(kind, str):
        return kind
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    branches = prop.get("anyOf") or prop.get("oneOf") or []
    names = [_expected_type(b) for b in branches if isinstance(b, dict)]
    if names and all(n != "the parameter's schema" for n in names):
        return " or ".join(dict.fromkeys(names))
    return "the parameter's schema"
