"""The Python builder: the same ``WorkflowSpec`` as YAML, written as code.

    wf = Workflow("quickstart", on_failure="continue")
    wf.input("folder", type="string", default="docs")
    docs = wf.node("list", list_documents, with_={"folder": "${inputs.folder}"})
    stats = wf.node("stats", text_stats, after=[docs], foreach="${list}",
                    with_={"path": "${item}"})
    wf.edge("review", "write", when="not output.approved", max_iterations=3)
    wf.output("report", "${report}")
    spec = wf.build()

Actions may be given as objects (an ``Action``, a plain function, or another
``Workflow``, which becomes a sub-workflow) or by name. Objects are collected
in ``wf.actions`` so the runtime can register them; a name is resolved at run
time (registry, remote agent). A plain function stays a function here: the
runtime wraps it with ``@tool`` when it compiles the workflow (this layer does
not import ``weft.agents``), and until then the builder checks arguments
against the function's signature (``_callables``).
Mistakes a builder can see at once (a repeated node name, two objects under
one action name) raise ``DefinitionError`` at the call; everything else is
reported by ``build``, all together. Either way each problem names the file and
line of the user's call that added the part at fault (``_call_sites``), as a
YAML workflow's errors name their line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import ValidationError

from weft.protocols import (
    Action,
    ActionKind,
    ActionRef,
    ActionSpec,
    Defaults,
    DefinitionError,
    EdgeSpec,
    FailurePolicy,
    InputSpec,
    JoinMode,
    JoinSpec,
    JournalMode,
    Location,
    NodeSpec,
    RetryPolicy,
    WorkflowSpec,
)
from weft.protocols.langgraph_objects import (
    compile_it_first,
    is_langgraph_builder,
    is_langgraph_graph,
)
from weft.protocols.source import Path
from weft.workflows._builder_args import join_field, name_apart
from weft.workflows._call_sites import (
    CallSite,
    CallSites,
    Recorder,
    at_site,
    located,
)
from weft.workflows._callables import callable_name, langgraph_preview, preview_spec
from weft.workflows._model_errors import validation_problems
from weft.workflows._salvage import error_paths, later_problems
from weft.workflows.gc_pause import gc_paused
from weft.workflows.graph import GraphPlan, Problem, in_file_order
from weft.workflows.validate import validate


@dataclass(frozen=True)
class NodeHandle:
    """What ``Workflow.node`` returns: use it in ``after=`` or as ``handle.ref``."""

    name: str

    @property
    def ref(self) -> str:
        """``"${name}"``: the node's whole output, for ``with_`` templates."""
        return "${" + self.name + "}"

    def __str__(self) -> str:
        return self.name


ActionLike = Any  # an Action, a plain callable, a Workflow, or a name
#: An entry of ``after=``: a node (handle or name), an ``EdgeSpec``, or the mapping YAML
#: writes (``{"node": "draft", "critic": editor, "max_rounds": 2}``; ``critic`` may be an
#: action object, as in ``Workflow.edge``).
EdgeLike = NodeHandle | str | EdgeSpec | Mapping[str, Any]


@dataclass
class _Node:
    action: str
    capability: str | None
    description: str
    with_: dict[str, Any]
    after: list[EdgeSpec]
    foreach: str | Sequence[Any] | None
    join: JoinSpec | dict[str, Any] | None
    timeout: float | None
    retry: RetryPolicy | None
    concurrency: int | None


class Workflow:
    """A workflow under construction; ``build()`` gives the validated ``WorkflowSpec``."""

    def __init__(
        self,
        name: str,
        *,
        description: str = "",
        version: str = "1",
        on_failure: FailurePolicy | str = FailurePolicy.FAIL_FAST,
        concurrency: int | None = None,
        action_concurrency: Mapping[str, int] | None = None,
        defaults: Defaults | None = None,
        python_path: Iterable[str] = (),
        journal: JournalMode | str = JournalMode.BATCHED,
    ) -> None:
        self.name = name
        self.description = description
        self.version = version
        self.on_failure = on_failure
        self.concurrency = concurrency
        self.action_concurrency = dict(action_concurrency or {})
        self.defaults = defaults
        self.python_path = list(python_path)
        #: ``"durable"``: each finished call is on disk before its dependents start.
        self.journal = journal
        self._inputs: dict[str, InputSpec] = {}
        self._outputs: dict[str, str] = {}
        self._refs: dict[str, ActionRef] = {}
        self._nodes: dict[str, _Node] = {}
        self._actions: dict[str, object] = {}
        # what each plain function's signature tells, read once per function
        self._previews: dict[str, ActionSpec] = {}
        # the name each action object was bound under (``_bound_name``)
        self._bound: dict[Any, str] = {}
        # where each part was added (file, line), for errors: ``_call_sites``
        self._sites = Recorder()
        self._node_sites: dict[str, CallSite | None] = {}
        self._edge_sites: dict[tuple[str, int], CallSite | None] = {}
        self._section_sites: dict[str, dict[str, CallSite | None]] = {
            "inputs": {},
            "outputs": {},
            "actions": {},
        }

    def __repr__(self) -> str:
        return f"<Workflow {self.name} ({len(self._nodes)} nodes)>"

    # -- declaring -------------------------------------------------------------

    def input(
        self,
        name: str,
        *,
        type: str = "any",
        default: Any = None,
        required: bool = False,
        description: str = "",
        secret: bool = False,
    ) -> str:
        """Declare a workflow input; returns its reference ``"${inputs.NAME}"``.

        ``secret=True``: its value is masked wherever it would be recorded or shown.
        """
        site = self._sites.site()
        try:
            self._inputs[name] = InputSpec.model_validate(
                {
                    "type": type,
                    "default": default,
                    "required": required,
                    "description": description,
                    "secret": secret,
                }
            )
        except ValidationError as exc:
            raise located(
                DefinitionError(validation_problems(exc, InputSpec, prefix=("inputs", name))),
                site,
            ) from None
        self._section_sites["inputs"][name] = site
        return "${inputs." + name + "}"

    def output(self, name: str, reference: str | NodeHandle) -> None:
        """Name an output of the workflow: a ``${NODE...}`` reference or a node handle."""
        self._outputs[name] = reference.ref if isinstance(reference, NodeHandle) else reference
        self._section_sites["outputs"][name] = self._sites.site()

    def action_ref(
        self,
        name: str,
        *,
        python: str | None = None,
        workflow: str | None = None,
        description: str | None = None,
    ) -> None:
        """Declare an action the runtime imports (``python``) or loads (``workflow``) by path."""
        site = self._sites.site()
        try:
            self._refs[name] = ActionRef(python=python, workflow=workflow, description=description)
        except ValidationError as exc:
            raise located(
                DefinitionError(validation_problems(exc, ActionRef, prefix=("actions", name))),
                site,
            ) from None
        self._section_sites["actions"][name] = site

    def node(
        self,
        name: str,
        action: ActionLike | None = None,
        *,
        capability: str | None = None,
        with_: Mapping[str, Any] | None = None,
        after: EdgeLike | Iterable[EdgeLike] = (),
        foreach: str | Sequence[Any] | None = None,
        join: JoinSpec | JoinMode | str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int | None = None,
        description: str = "",
    ) -> NodeHandle:
        """Add a node; ``join`` may be a ``JoinSpec`` or just a mode (``"any"``).

        Give the node an ``action``, or a ``capability`` in prose: the run's
        router then picks the agent when the node starts (``run_workflow(router=...)``).
        ``foreach`` is a ``${...}`` reference to a list (``handle.ref``) or the list
        itself (a list or tuple; elements may hold ``${...}`` references).
        """
        site = self._sites.site()
        try:
            if name in self._nodes:
                first = self._node_sites.get(name)
                raise DefinitionError.single(
                    f"node '{name}' is already defined in workflow '{self.name}'"
                    + (f" (first at {at_site(first)})" if first is not None else ""),
                    Location(node=name),
                )
            if isinstance(after, NodeHandle | str | EdgeSpec | Mapping):
                after = [after]
            if (action is None) == (capability is None):
                raise DefinitionError.single(
                    f"node '{name}' needs exactly one of an action or a capability",
                    Location(node=name, field="action"),
                )
            self._nodes[name] = _Node(
                action="" if action is None else self._bind(action, node=name),
                capability=capability,
                description=description,
                with_=dict(with_ or {}),
                after=self._edges(after, node=name),
                foreach=foreach,
                join=join_field(join, node=name),
                timeout=timeout,
                retry=retry,
                concurrency=concurrency,
            )
        except DefinitionError as exc:  # refused here: at this call's line
            raise located(exc, site) from None
        self._node_sites[name] = site
        return NodeHandle(name)

    def edge(
        self,
        source: NodeHandle | str,
        target: NodeHandle | str,
        *,
        when: str | None = None,
        critic: ActionLike | None = None,
        max_iterations: int | None = None,
        max_rounds: int = 0,
    ) -> None:
        """Add an edge ``source → target`` (to ``target``'s ``after``); a loop edge with a bound.

        ``critic`` reviews the artifact first; with ``max_rounds`` it may send it
        back to ``source`` with its feedback that many times (``EdgeSpec``).
        """
        site = self._sites.site()
        target_name = str(target)
        if target_name not in self._nodes:
            raise located(
                DefinitionError.single(
                    f"edge to unknown node '{target_name}': add the node before its edges",
                    Location(node=target_name),
                ),
                site,
            )
        after = self._nodes[target_name].after
        try:
            edge = self._make_edge(
                node=str(source),
                when=when,
                critic=None if critic is None else self._bind(critic, node=target_name),
                max_iterations=max_iterations,
                max_rounds=max_rounds,
                target=target_name,
                index=len(after),
            )
        except DefinitionError as exc:
            raise located(exc, site) from None
        self._edge_sites[(target_name, len(after))] = site
        after.append(edge)

    @contextlib.contextmanager
    def _made_in_one_call(self) -> Iterator[None]:
        """Locate what is added inside at the ``Workflow(...)`` call, for a generator
        (``topologies``) that creates the workflow and adds every part of it within one
        call of the user's: that call is the user's line for all of them, found once
        instead of by a frame walk per node."""
        self._sites.pinned = True
        try:
            yield
        finally:
            self._sites.pinned = False

    # -- actions ---------------------------------------------------------------

    @property
    def actions(self) -> dict[str, object]:
        """Actions passed as objects, by name: ``Action`` objects, plain functions and
        sub-``Workflow`` builders (the runtime's registry turns each into an action)."""
        return dict(self._actions)

    def action_specs(self) -> dict[str, ActionSpec]:
        """The ``ActionSpec`` of every action passed as an object (sub-workflows included).

        A plain function's spec is read from its signature: parameter names and
        which are required, not their types (see ``_callables``).
        """
        specs: dict[str, ActionSpec] = {}
        for name, obj in self._actions.items():
            if isinstance(obj, Workflow):
                specs[name] = obj.as_action_spec()
            elif name in self._previews:
                specs[name] = self._previews[name]
            else:
                specs[name] = cast(Action, obj).spec
        return specs

    def as_action_spec(self) -> ActionSpec:
        """How this workflow looks when used as an action: its inputs are the parameters."""
        properties: dict[str, Any] = {}
        for name, spec in self._inputs.items():
            prop: dict[str, Any] = {} if spec.type == "any" else {"type": spec.type}
            if spec.description:
                prop["description"] = spec.description
            if spec.default is not None:
                prop["default"] = spec.default
            properties[name] = prop
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        required = [n for n, s in self._inputs.items() if s.required]
        if required:
            schema["required"] = required
        return ActionSpec(
            name=self.name,
            version=self.version,
            kind=ActionKind.WORKFLOW,
            description=self.description,
            input_schema=schema,
        )

    def _bind(self, action: ActionLike, *, node: str) -> str:
        """Register an action object (if it is one) and return the name nodes use."""
        if isinstance(action, str):
            return action
        bound = self._bound_name(action)
        if bound is not None:
            self._actions[bound] = action
            return bound
        preview: ActionSpec | None = None
        if isinstance(action, Workflow):
            name = action.name
        elif hasattr(action, "spec") and hasattr(action, "invoke"):
            name = action.spec.name
        elif is_langgraph_graph(action):
            preview = langgraph_preview(action)
            name = preview.name
        elif callable(action):
            try:
                preview = preview_spec(action)
            except TypeError as exc:  # e.g. *args, which no schema can describe
                raise DefinitionError.single(
                    str(exc), Location(node=node, field="action")
                ) from None
            name = preview.name
        elif is_langgraph_builder(action):
            raise DefinitionError.single(
                compile_it_first(action), Location(node=node, field="action")
            )
        else:
            raise DefinitionError.single(
                f"action must be a name, an Action, a function or a Workflow, got "
                f"{type(action).__name__}",
                Location(node=node, field="action"),
            )
        existing = self._actions.get(name)
        # ``==`` as well as ``is``: ``obj.method`` is a new bound-method object at each access
        if existing is not None and existing is not action and existing != action:
            raise DefinitionError.single(
                f"two different objects are registered as action '{name}': {name_apart(name)}",
                Location(node=node, field="action"),
            )
        self._actions[name] = action
        if preview is not None:
            self._previews[name] = preview
            if preview.kind is ActionKind.TOOL:  # a plain function: ``_bound_name``
                with contextlib.suppress(TypeError):  # unhashable: read each time
                    self._bound[action] = name
        return name

    def _bound_name(self, action: ActionLike) -> str | None:
        """The name the plain function ``action`` (or an equal one) was bound under, when
        that binding still stands and the function still has that name.

        A topology binds one function to thousands of nodes: reading its signature
        (``preview_spec``) each time was most of the cost of adding a node, and it
        gives the same spec each time.
        """
        try:
            name = self._bound.get(action)
        except TypeError:
            return None
        if name is None or callable_name(action) != name:
            return None
        existing = self._actions.get(name)
        return name if existing is action or existing == action else None

    def _edges(self, values: Iterable[EdgeLike], *, node: str) -> list[EdgeSpec]:
        """The edges of ``after=``; called once per node, so the common case (a name
        that validates) costs one model construction and no extra calls."""
        edges: list[EdgeSpec] = []
        for index, value in enumerate(values):
            if isinstance(value, EdgeSpec):
                edges.append(value)
                continue
            if isinstance(value, Mapping):  # as YAML writes it
                fields = {**value, "node": str(value.get("node", ""))}
                if fields.get("critic") is not None and not isinstance(fields["critic"], str):
                    fields["critic"] = self._bind(fields["critic"], node=node)
                edges.append(self._make_edge(target=node, index=index, **fields))
                continue
            try:
                edges.append(EdgeSpec(node=str(value)))
            except ValidationError:  # again, to raise it located at this node and entry
                edges.append(self._make_edge(node=str(value), target=node, index=index))
        return edges

    def _make_edge(self, *, target: str, index: int, **fields: Any) -> EdgeSpec:
        try:
            return EdgeSpec(**fields)
        except ValidationError as exc:
            raise DefinitionError(
                validation_problems(exc, EdgeSpec, prefix=("nodes", target, "after", index))
            ) from None

    # -- building --------------------------------------------------------------

    def build(self, actions: Mapping[str, ActionSpec] | None = None) -> WorkflowSpec:
        """The model-validated and graph-validated ``WorkflowSpec``.

        Actions passed as objects are checked (name, arguments). Actions given
        by name are taken on trust (the runtime resolves them) unless
        ``actions`` is passed: then every name must be among those specs, the
        builder's own objects or ``action_ref`` declarations.
        """
        return self._validated(actions)[0]

    def plan(self, actions: Mapping[str, ActionSpec] | None = None) -> GraphPlan:
        """Like ``build``, but returns the ``GraphPlan`` (handy to inspect a topology)."""
        return self._validated(actions)[1]

    def build_with_plan(
        self, actions: Mapping[str, ActionSpec] | None = None
    ) -> tuple[WorkflowSpec, GraphPlan]:
        """``build`` and ``plan`` from one validation: a 10,000-node graph is validated once."""
        return self._validated(actions)

    def _validated(
        self, actions: Mapping[str, ActionSpec] | None
    ) -> tuple[WorkflowSpec, GraphPlan]:
        with gc_paused():  # a large graph: see ``gc_pause``
            return self._validate(actions)

    def _validate(self, actions: Mapping[str, ActionSpec] | None) -> tuple[WorkflowSpec, GraphPlan]:
        known = self.action_specs()
        if actions is not None:
            known.update(actions)
        else:
            # a name is a promise the runtime keeps: accept it with an open schema
            for node in self._nodes.values():
                for name in (node.action, *(e.critic for e in node.after if e.critic)):
                    if name and name not in known:
                        known[name] = ActionSpec(name=name)
        spec = self._spec(later=known)
        return spec, validate(spec, known)

    def spec(self) -> WorkflowSpec:
        """The model-validated ``WorkflowSpec`` without graph checks (for partial drafts).

        Its ``source`` is a ``CallSites``: whatever locates a problem in it names the
        line of the builder call that added the part at fault.
        """
        return self._spec(later=None)

    def _spec(self, *, later: Mapping[str, ActionSpec] | None) -> WorkflowSpec:
        """``spec``; with ``later`` (the actions), a failure also lists the problems of the
        graph and actions in the parts that passed (``_salvage``)."""
        sites = self._call_sites()
        problems: list[Problem] = []
        nodes: dict[str, NodeSpec] = {}
        given: dict[str, Any] = {}  # every node, as validated or as given when it failed
        bad: list[Path] = []
        for name, node in self._nodes.items():
            fields: dict[str, Any] = {
                "action": node.action,
                "capability": node.capability,
                "description": node.description,
                "with": node.with_,
                "after": node.after,
                "foreach": node.foreach,
                "join": node.join,
                "timeout": node.timeout,
                "retry": node.retry,
                "concurrency": node.concurrency,
            }
            given[name] = {k: v for k, v in fields.items() if v is not None}
            try:
                nodes[name] = given[name] = NodeSpec.model_validate(given[name])
            except ValidationError as exc:
                problems.extend(
                    validation_problems(exc, NodeSpec, source=sites, prefix=("nodes", name))
                )
                bad.extend(error_paths(exc, ("nodes", name)))
        top: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            # as dicts: WorkflowSpec's input shorthand would take an InputSpec for a default value
            "inputs": {n: s.model_dump(exclude_defaults=True) for n, s in self._inputs.items()},
            "outputs": self._outputs,
            "actions": self._refs,
            "python_path": self.python_path,
            "nodes": nodes,
            "concurrency": self.concurrency,
            "action_concurrency": self.action_concurrency,
            "on_failure": self.on_failure,
            "journal": self.journal,
        }
        if self.defaults is not None:
            top["defaults"] = self.defaults
        try:
            spec = WorkflowSpec.model_validate(top)
        except ValidationError as exc:
            top_problems = validation_problems(exc, WorkflowSpec, source=sites, data=top)
            if problems:  # a node that failed is missing from ``nodes``: do not blame ``nodes``
                top_problems = [p for p in top_problems if p[1].field != "nodes"]
            problems.extend(top_problems)
            bad.extend(error_paths(exc))
        if problems:
            if later is not None:
                problems.extend(later_problems({**top, "nodes": given}, bad, sites, later))
            raise DefinitionError(in_file_order(problems))
        spec._source = sites
        return spec

    def _call_sites(self) -> CallSites:
        """Where each part was added, as of now (the builder may grow after a ``build``)."""
        return CallSites(
            self._sites.workflow,
            dict(self._node_sites),
            dict(self._edge_sites),
            {section: dict(sites) for section, sites in self._section_sites.items()},
        )
