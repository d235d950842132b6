"""A validated workflow's nodes, edges and outputs, compiled for the executor's hot path.

Each node gets its resolved action, its templates, conditions and join reducer
compiled once (``compiled.CompiledNode``), and each edge a ``CompiledEdge`` shared
by its source's ``outgoing`` and its target's ``incoming``, so the executor does
no parsing and no lookup by name. A condition or reducer that cannot be compiled
is a ``DefinitionError`` at its node's line and field.
"""

from __future__ import annotations

from functools import partial

from weft.protocols import (
    Action,
    DefinitionError,
    EdgeSpec,
    JoinMode,
    NodeSpec,
    WorkflowSpec,
    locate,
)
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.capability import CapabilityAction
from weft.runtime.engine.compiled import (
    CompiledEdge,
    CompiledNode,
    single_parameter,
    unwrapping_keys,
)
from weft.runtime.engine.importing import import_module, workflow_folders
from weft.workflows import GraphPlan, resolve_reducer
from weft.workflows.expressions import Condition, ExpressionError, Renderer, compile_template
from weft.workflows.reducers import Reducer, reduce_list

__all__ = ["compile_nodes", "compile_outputs"]


def _condition(edge: EdgeSpec, target: str, spec: WorkflowSpec, index: int) -> Condition | None:
    if edge.when is None:
        return None
    try:
        return Condition(edge.when)
    except ExpressionError as exc:
        raise DefinitionError.single(
            str(exc), locate(spec.source, ("nodes", target, "after", index, "when"), node=target)
        ) from None


def compile_nodes(
    spec: WorkflowSpec, plan: GraphPlan, registry: ActionTable
) -> dict[str, CompiledNode]:
    """Every node of ``spec`` in ``plan``'s order, its action taken from ``registry``
    (a capability node's is resolved when it runs); raises ``DefinitionError``."""
    # compiled edges by target, then source: no (source, target) tuple per edge and lookup
    compiled_edges: dict[str, dict[str, CompiledEdge]] = {}
    loop_bodies = {(lp.source, lp.target): lp.body for lp in plan.loops}
    for target, node in spec.nodes.items():
        into = compiled_edges[target] = {}
        for i, edge in enumerate(node.after):
            into[edge.node] = CompiledEdge(
                source=edge.node,
                target=target,
                condition=_condition(edge, target, spec, i),
                critic=edge.critic,
                max_iterations=edge.max_iterations,
                body=loop_bodies.get((edge.node, target), ()) if loop_bodies else (),
                max_rounds=edge.max_rounds,
                plain=edge.when is None and edge.critic is None,
            )
    nodes: dict[str, CompiledNode] = {}
    for name in plan.order:
        node = spec.nodes[name]
        action = _node_action(name, node, registry)
        join = node.join
        into = compiled_edges[name]
        incoming = tuple(into[e.node] for e in plan.incoming[name])
        predecessors = tuple(e.node for e in node.after)
        fed = predecessors and not node.with_  # passes its input on (``arguments``)
        param = single_parameter(action.spec.input_schema) if fed else None
        nodes[name] = CompiledNode(
            name=name,
            spec=node,
            action_name=node.action or action.spec.name,
            action=action,
            render_args=compile_template(node.with_) if node.with_ else None,
            default_param=param,
            param_keys=unwrapping_keys(action.spec.input_schema, param),
            render_foreach=compile_template(node.foreach) if node.foreach else None,
            reducer=_node_reducer(spec, name, join.reducer) if join else reduce_list,
            join_mode=join.mode if join else JoinMode.ALL,
            quorum=(join.count or 1) if join else 1,
            timeout=node.timeout if node.timeout is not None else spec.defaults.timeout,
            retry=node.retry or spec.defaults.retry,
            incoming=incoming,
            outgoing=tuple(compiled_edges[t][name] for t, _e in plan.outgoing[name]),
            loops_out=tuple(compiled_edges[lp.target][lp.source] for lp in plan.loops_from[name]),
            loops_in=tuple(into[lp.source] for lp in plan.loops_into[name]),
            predecessors=predecessors,
            uses_context=bool(getattr(action, "uses_context", True)),
        )
    return nodes


def _node_reducer(spec: WorkflowSpec, name: str, reducer: str) -> Reducer:
    """The join's reducer, imported now; a failure names the file, line and node."""
    try:
        return resolve_reducer(reducer, partial(import_module, folders=workflow_folders(spec)))
    except DefinitionError as exc:
        where = locate(
            spec.source, ("nodes", name, "join", "reducer"), node=name, field_name="join.reducer"
        )
        raise DefinitionError([(message, where) for message, _ in exc.problems]) from None


def _node_action(name: str, node: NodeSpec, registry: ActionTable) -> Action:
    """The node's action; a capability node's is resolved when it runs (``capability``)."""
    if node.capability is not None:
        return CapabilityAction(name, node.capability)
    return registry.get(node.action)


def compile_outputs(spec: WorkflowSpec, plan: GraphPlan) -> dict[str, Renderer]:
    """The workflow's outputs, or each sink node's output when it declares none."""
    if spec.outputs:
        return {name: compile_template(ref) for name, ref in spec.outputs.items()}
    return {sink: compile_template("${" + sink + "}") for sink in plan.sinks}
