"""From a definition to something the executor can run fast.

``compile_workflow`` resolves the actions a workflow names (its ``actions:`` section,
the builder's objects, and whatever the caller registers), validates the
whole graph once with every problem located, and compiles references,
conditions and reducers, so the executor's hot path does no parsing.
Every ``actions:`` entry is loaded on its own, and the problems of those that
fail come with the rest (``load_problems``), also for a file whose fields
failed (the loader hands over what passed: ``IncompleteDefinition``).
``compile_workflow_async`` is the same for a running event loop: the
network look-ups (``mcp:`` servers listed, ``a2a: mqtt://`` cards awaited)
are awaited beforehand, all at once (``discovery``), instead of blocking.

``as_action`` lives here too because turning a workflow into an action *is*
compiling it, and compiling a workflow turns the objects it names into
actions: the two recurse into each other, so they share a module rather than
import each other. The result (``compiled.PreparedWorkflow``) and the table of
actions it calls (``action_table.ActionTable``) sit below, for the executor;
so do the checks that need the resolved actions (``graph_checks``) and the
compiling of nodes, edges and outputs (``node_compiling``), which need
neither ``as_action`` nor ``compile_workflow``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from weft.agents import tool
from weft.agents.langgraph_action import from_langgraph
from weft.protocols import (
    Action,
    ActionRef,
    DefinitionError,
    Location,
    WorkflowSpec,
    locate,
)
from weft.protocols.langgraph_objects import (
    compile_it_first,
    is_langgraph_builder,
    is_langgraph_graph,
)
from weft.runtime.engine.action_table import ActionTable, is_action, is_live
from weft.runtime.engine.compiled import (
    CompiledEdge,
    CompiledNode,
    PreparedWorkflow,
)
from weft.runtime.engine.discovery import Discoveries
from weft.runtime.engine.graph_checks import check_loop_exits, check_referenced_actions
from weft.runtime.engine.importing import (
    import_object,
    import_paths,
    workflow_folders,
)
from weft.runtime.engine.llm_actions import check_llm_handoffs, check_llm_tools, llm_action
from weft.runtime.engine.load_problems import load_problems
from weft.runtime.engine.node_argument_checks import check_node_arguments
from weft.runtime.engine.node_compiling import compile_nodes, compile_outputs
from weft.runtime.engine.remote_refs import a2a_action, is_reached, register_mcp_tools
from weft.runtime.engine.secret_flow import analyse
from weft.runtime.engine.workflow_action import WorkflowAction
from weft.runtime.support.user_code import exec_file_module, raised_at
from weft.workflows import (
    GraphPlan,
    IncompleteDefinition,
    Workflow,
    load_workflow,
    validate,
)
from weft.workflows.gc_pause import gc_paused
from weft.workflows.graph import Problem
from weft.workflows.validate import check_actions

__all__ = [
    "Actions",
    "CompiledEdge",
    "CompiledNode",
    "PreparedWorkflow",
    "as_action",
    "compile_workflow",
    "compile_workflow_async",
    "import_object",
    "load_definition",
]

#: What callers may pass as a workflow's extra actions.
Actions = ActionTable | Mapping[str, Any] | list[Any] | None


def as_action(obj: Any, name: str | None = None) -> Action:
    """Normalise ``obj`` (action, callable, Workflow builder, WorkflowSpec, compiled
    LangGraph graph) into an action."""
    if isinstance(obj, Workflow | WorkflowSpec):
        return WorkflowAction(compile_workflow(obj), name=name)
    if is_action(obj):
        return obj  # type: ignore[no-any-return]
    if is_langgraph_graph(obj):
        return from_langgraph(obj, name=name)
    if callable(obj):
        try:
            return tool(name=name)(obj) if name else tool(obj)
        except (TypeError, ValueError) as exc:  # a signature weft cannot describe
            label = getattr(obj, "__qualname__", None) or repr(obj)
            reason = re.sub(r"^@tool [^:]*: ", "", str(exc))  # the label is said once
            raise DefinitionError.single(f"{label} cannot be a weft action: {reason}") from None
    if is_langgraph_builder(obj):
        raise DefinitionError.single(compile_it_first(obj))
    raise DefinitionError.single(
        f"{obj!r} is not an action: expected a @tool, an action object, a function or a workflow"
    )


def _table(actions: Actions) -> ActionTable:
    """A table of the caller's actions that compiling may add to without touching theirs."""
    if isinstance(actions, ActionTable):
        return actions.copy()
    table = ActionTable()
    if is_live(actions):  # an MCP server's tools: new ones join the table as they come
        table.follow(actions)
        return table
    items = actions.items() if isinstance(actions, Mapping) else ((None, a) for a in actions or ())
    for name, obj in items:
        if name is None and is_live(obj):
            table.follow(obj)
        else:
            table.register(as_action(obj, name=name), name=name)
    return table


def graph_hash(spec: WorkflowSpec, sub_hashes: dict[str, str] | None = None) -> str:
    """A stable hash of the definition (and of sub-workflows), to refuse a mismatched resume.

    The journal mode is left out: it says how the run is recorded, not what it computes,
    so a run may be resumed in the other mode (and older runs keep their hash)."""
    dumped = spec.model_dump(mode="json", by_alias=True, exclude={"journal"})
    canonical = json.dumps(
        {"spec": dumped, "subs": sub_hashes or {}},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def compile_workflow(
    definition: WorkflowSpec | Workflow | str | Path,
    actions: Actions = None,
    *,
    _stack: tuple[str, ...] = (),
    _found: Discoveries | None = None,
) -> PreparedWorkflow:
    """Validate and compile a workflow given as a spec, a builder, or a YAML path.

    ``actions`` adds actions by name and wins over those the definition names
    itself; it is copied, never changed. Raises ``DefinitionError`` with every
    problem located.

    The ``mcp:`` and ``a2a: mqtt://`` entries are discovered here, blocking the
    calling thread (up to their timeouts): inside a running event loop, await
    ``compile_workflow_async`` instead.
    """
    with gc_paused():  # an object per edge, none in a cycle: see ``weft.workflows.gc_pause``
        registry = _table(actions)
        loaded = _load(definition, registry, _stack, _found)
        return _finish(loaded, registry, _stack, _found)


async def compile_workflow_async(
    definition: WorkflowSpec | Workflow | str | Path, actions: Actions = None
) -> PreparedWorkflow:
    """``compile_workflow`` for async code: the caller's event loop runs on while the
    workflow's MCP servers are listed and its A2A agents' cards awaited.

    Every discovery of the workflow and of the workflow files it includes runs
    at once (``discovery.Discoveries``); the rest is the synchronous compile,
    so the result and the errors (located at the ``mcp:``/``a2a:`` line) are
    ``compile_workflow``'s. Loading the file and Python code it names still run
    on the loop: they are quick, or the user's own.
    """
    found = Discoveries()
    with gc_paused():
        registry = _table(actions)
        loaded = _load(definition, registry, (), found)
    await found.gather(loaded.spec, loaded.base, load_definition)
    with gc_paused():
        return _finish(loaded, registry, (), found)


class _Loaded:
    """A definition read and built, not yet resolved: what discovery needs to look at."""

    __slots__ = ("base", "built_plan", "origin", "source_file", "spec")

    def __init__(
        self, spec: WorkflowSpec, built_plan: GraphPlan | None, origin: str | None
    ) -> None:
        self.spec = spec
        self.built_plan = built_plan
        self.origin = origin
        self.source_file = spec.source.file if spec.source is not None else None
        #: The folder relative paths (and MCP commands) start from.
        self.base = Path(self.source_file).parent if self.source_file else Path.cwd()


def _load(
    definition: WorkflowSpec | Workflow | str | Path,
    registry: ActionTable,
    stack: tuple[str, ...],
    found: Discoveries | None,
) -> _Loaded:
    """Read a file (once: ``found`` keeps the files discovery read), register a builder's
    objects and build it (the builder validates its graph against them).

    A file whose fields fail still has the ``actions:`` entries that passed
    loaded, and the nodes that passed checked against them: its error lists
    those problems with the fields' (``_incomplete``)."""
    origin: str | None = None
    if isinstance(definition, str | Path):
        origin = str(Path(definition).resolve())
        cached = found.definitions.get(origin) if found is not None else None
        try:
            definition = cached if cached is not None else load_definition(definition)
        except IncompleteDefinition as exc:
            raise _incomplete(exc, registry, stack, found) from None
    if isinstance(definition, Workflow):
        for name, obj in definition.actions.items():
            if name not in registry:
                registry.register(as_action(obj, name=name), name=name)
        spec, built_plan = definition.build_with_plan()
        return _Loaded(spec, built_plan, origin)
    return _Loaded(definition, None, origin)


def _finish(
    loaded: _Loaded,
    registry: ActionTable,
    _stack: tuple[str, ...],
    found: Discoveries | None,
) -> PreparedWorkflow:
    """Resolve, validate and compile a loaded definition; ``found`` answers the look-ups
    discovered beforehand (the rest are made here, blocking)."""
    spec, built_plan, source_file = loaded.spec, loaded.built_plan, loaded.source_file
    problems, unloaded = _resolve_action_refs(spec, registry, loaded.base, _stack, found)
    if problems:  # the rest is checked with the actions that loaded, then all are raised
        raise load_problems(spec, registry, problems, unloaded) from None
    check_llm_tools(spec, registry)
    check_llm_handoffs(spec, registry)
    if built_plan is None:
        plan = validate(spec, registry.specs())
    else:  # the builder validated the graph: only what depends on the resolved actions is left
        check_actions(spec, registry.specs())
        plan = built_plan
    check_loop_exits(spec, plan)
    nodes = compile_nodes(spec, plan, registry)
    if not _stack:  # a sub-workflow's teams may name its caller's actions: checked at run time
        check_referenced_actions(spec, nodes, registry)
    warnings = check_node_arguments(spec, nodes)
    flow = analyse(spec, {name: node.action.spec.input_schema for name, node in nodes.items()})
    for name, node in nodes.items():
        node.secret_params = flow.params.get(name, frozenset())
        node.secret_outputs = tuple(sorted(flow.outputs.get(name, ())))
    outputs = compile_outputs(spec, plan)
    sub_hashes = {
        name: getattr(registry.get(name), "graph_hash", "")
        for name in {n.action for n in spec.nodes.values() if n.action}
        if hasattr(registry.get(name), "graph_hash")
    }
    return PreparedWorkflow(
        spec=spec,
        plan=plan,
        nodes=nodes,
        registry=registry,
        graph_hash=graph_hash(spec, sub_hashes),
        source=loaded.origin or (str(Path(source_file).resolve()) if source_file else None),
        outputs=outputs,
        sub_hashes=sub_hashes,
        secret_inputs=tuple(sorted(flow.inputs)),
        secret_literals=tuple(sorted(flow.literals)),
        secret_input_names=flow.input_names(spec.inputs),
        warnings=warnings,
    )


def load_definition(path: str | Path) -> WorkflowSpec | Workflow:
    """A workflow from a YAML file, or from a Python file that defines ``workflow``."""
    path = Path(path)
    if not path.exists():
        raise DefinitionError.single(f"workflow file not found: {path}")
    if path.suffix != ".py":
        return load_workflow(path)
    module_name = f"_weft_workflow_{abs(hash(str(path.resolve())))}"
    with import_paths([path.parent.resolve()]):
        try:
            module = exec_file_module(module_name, path)
        except DefinitionError:
            raise
        except Exception as exc:
            raise DefinitionError.single(
                f"running {path} failed: {type(exc).__name__}: {exc}{raised_at(exc)}",
                Location(file=str(path)),
            ) from None
    found = getattr(module, "workflow", None)
    if not isinstance(found, Workflow | WorkflowSpec):
        others = [
            name
            for name, value in vars(module).items()
            if isinstance(value, Workflow | WorkflowSpec) and not name.startswith("_")
        ]
        hint = f" (it defines {', '.join(others)}: add 'workflow = {others[0]}')" if others else ""
        raise DefinitionError.single(
            f"{path} must define a variable 'workflow' holding a weft Workflow{hint}",
            Location(file=str(path)),
        )
    return found


def _incomplete(
    exc: IncompleteDefinition,
    registry: ActionTable,
    stack: tuple[str, ...],
    found: Discoveries | None,
) -> DefinitionError:
    """``exc`` (a file whose fields failed) with the problems of loading the actions that
    passed and of the nodes that passed against them. The entries that need a server
    (``remote_refs.is_reached``) are not loaded: their nodes are not judged."""
    partial = exc.partial
    if partial is None or not partial.actions_judged:
        return DefinitionError(exc.problems)
    spec = partial.spec
    source_file = spec.source.file if spec.source is not None else None
    base = Path(source_file).parent if source_file else Path.cwd()
    problems, unloaded = _resolve_action_refs(spec, registry, base, stack, found, reach=False)
    return load_problems(spec, registry, [*exc.problems, *problems], unloaded, partial)


def _resolve_action_refs(
    spec: WorkflowSpec,
    registry: ActionTable,
    base: Path,
    stack: tuple[str, ...],
    found: Discoveries | None,
    *,
    reach: bool = True,
) -> tuple[list[Problem], set[str]]:
    """Load every ``actions:`` entry into ``registry``; returns the problems of those that
    failed (each at its line: one failing does not stop the others) and the names of the
    entries not loaded. Without ``reach``, the entries that need a server are not loaded."""
    paths = [base, *[(base / p).resolve() for p in spec.python_path]]
    folders = workflow_folders(spec)  # a file's own modules are loaded by path (``beside``)
    problems: list[Problem] = []
    unloaded: set[str] = set()
    with import_paths(paths):
        for name, ref in spec.actions.items():
            if not reach and is_reached(ref):
                unloaded.add(name)
                continue
            try:
                _resolve_action_ref(name, ref, spec, registry, base, stack, found, folders)
            except DefinitionError as exc:
                problems.extend(exc.problems)
                unloaded.add(name)
    return problems, unloaded


def _resolve_action_ref(
    name: str,
    ref: ActionRef,
    spec: WorkflowSpec,
    registry: ActionTable,
    base: Path,
    stack: tuple[str, ...],
    found: Discoveries | None,
    folders: list[Path],
) -> None:
    where = locate(spec.source, ("actions", name))
    if ref.mcp is not None:
        register_mcp_tools(name, ref, registry, base, spec, found)
        return
    action: Action
    if ref.a2a is not None:
        action = a2a_action(name, ref, spec, found)
    elif ref.llm is not None:
        action = llm_action(name, ref, spec)  # its description is its own
    elif ref.python is not None:
        obj = import_object(ref.python, where=where, folders=folders)
        try:
            action = as_action(obj, name=name)
        except DefinitionError as exc:
            raise DefinitionError.single(f"action '{name}': {exc}", where) from None
    else:
        assert ref.workflow is not None
        path = (base / ref.workflow).resolve()
        if str(path) in stack:
            chain = " -> ".join([*stack, str(path)])
            raise DefinitionError.single(f"workflow includes itself: {chain}", where)
        if not path.exists():
            raise DefinitionError.single(f"workflow file not found: {path}", where)
        sub = compile_workflow(path, _stack=(*stack, str(path)), _found=found)
        action = WorkflowAction(sub, name=name)
    if ref.description is not None and ref.llm is None:
        action = _Described(action, ref.description)
    if name in registry and registry.get(name) is not action:
        return  # an action registered by the caller wins over the file's
    registry.register(action, name=name)


class _Described:
    """An action seen under another description (``actions: {x: {description: ...}}``)."""

    def __init__(self, inner: Action, description: str) -> None:
        self._inner = inner
        self._spec = inner.spec.model_copy(update={"description": description})

    @property
    def spec(self) -> Any:
        return self._spec

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def invoke(self, call: Any, ctx: Any) -> Any:
        return await self._inner.invoke(call, ctx)
