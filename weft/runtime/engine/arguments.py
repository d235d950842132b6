"""What a node's action is called with, from the artifacts its edges delivered.

A node without ``with`` passes its input on: the one predecessor's artifact,
or its join's reduction of several, as the action's single parameter (or as
the arguments object when it is a dict). An object that has that parameter
as a key is taken apart instead, unless the parameter declares an object
(``compiled.unwrapping_keys``): a graph's ``{"text": ...}`` feeds a
``text: str`` tool, or the same graph again, without nesting. A node with ``with`` renders its
template in a scope of the run's inputs, each predecessor's artifact by name,
``input`` and ``iteration``. A ``foreach`` node renders its list once and
each item's arguments later. Pure functions: they raise ``ExpressionError``
or ``ReducerError`` for a reference or a reducer that fails.
"""

from __future__ import annotations

from typing import Any

from weft.runtime.engine.compiled import CompiledNode
from weft.runtime.engine.slots import Slot
from weft.workflows.expressions import ExpressionError
from weft.workflows.reducers import reduce_list


class ForeachPlan:
    """The items a foreach node runs over, and the scope their arguments are rendered in."""

    __slots__ = ("items", "scope")

    def __init__(self, items: list[Any], scope: dict[str, Any]) -> None:
        self.items = items
        self.scope = scope


def node_arguments(slot: Slot, inputs: dict[str, Any]) -> dict[str, Any] | ForeachPlan:
    """The arguments of the node's next call, or the plan of its foreach."""
    node = slot.node
    if node.render_args is None and node.render_foreach is None:
        return _passed_on(slot)
    scope = _scope(slot, inputs)
    if node.render_foreach is not None:
        items = node.render_foreach(scope)
        if not isinstance(items, list | tuple):
            raise ExpressionError(
                f"foreach {node.spec.foreach} gave {type(items).__name__}, not a list"
            )
        return ForeachPlan(list(items), scope)
    return rendered_arguments(node, scope)


def item_arguments(node: CompiledNode, plan: ForeachPlan, index: int) -> dict[str, Any]:
    """The arguments of a foreach node's call for item ``index``."""
    return rendered_arguments(node, {**plan.scope, "item": plan.items[index], "index": index})


def rendered_arguments(node: CompiledNode, scope: dict[str, Any]) -> dict[str, Any]:
    if node.render_args is not None:
        rendered = node.render_args(scope)
        return rendered if isinstance(rendered, dict) else {}
    return _as_arguments(node, scope.get("input"))


def _scope(slot: Slot, inputs: dict[str, Any]) -> dict[str, Any]:
    node = slot.node
    arrived = slot.arrivals
    scope: dict[str, Any] = {"inputs": inputs, "iteration": slot.runs - 1}
    if node.predecessors:
        for source in node.predecessors:
            scope[source] = arrived.get(source)
        if node.spec.join is None and len(node.predecessors) == 1:
            scope["input"] = arrived.get(node.predecessors[0])
        else:
            sources = [s for s in node.predecessors if s in arrived]
            scope["input"] = node.reducer([arrived[s] for s in sources], sources)
    return scope


def _passed_on(slot: Slot) -> dict[str, Any]:
    """The arguments of a node without ``with``: its input, without building a scope."""
    node = slot.node
    arrived = slot.arrivals
    if not node.predecessors:
        return {}
    if node.spec.join is None and len(node.predecessors) == 1:
        value = arrived.get(node.predecessors[0])
    elif len(arrived) == len(node.predecessors):  # everything arrived: no filtering
        sources = node.predecessors
        values = list(map(arrived.__getitem__, sources))
        # The default reducer would only copy the list again.
        value = values if node.reducer is reduce_list else node.reducer(values, list(sources))
    else:
        present = [s for s in node.predecessors if s in arrived]
        value = node.reducer([arrived[s] for s in present], present)
    param = node.default_param
    if param is not None:  # _as_arguments, without a call on the per-node path
        keys = node.param_keys
        if keys is not None and isinstance(value, dict) and param in value:
            return {k: v for k, v in value.items() if k in keys}
        return {param: value}
    return dict(value) if isinstance(value, dict) else {}


def _as_arguments(node: CompiledNode, value: Any) -> dict[str, Any]:
    """A node's input as arguments: its action's one parameter (an object that has that
    parameter as a key: its keys the action takes, ``compiled.unwrapping_keys``), or the
    input as an object."""
    param = node.default_param
    if param is not None:
        keys = node.param_keys
        if keys is not None and isinstance(value, dict) and param in value:
            return {k: v for k, v in value.items() if k in keys}
        return {param: value}
    return dict(value) if isinstance(value, dict) else {}
