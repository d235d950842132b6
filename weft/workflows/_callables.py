"""What the builder can tell about a plain function before the runtime wraps it.

``weft.workflows`` imports only ``weft.protocols`` (DESIGN.md section 2), so
the builder does not turn a function into a tool itself: it keeps the
function, and the engine's registry wraps it with ``weft.agents.tool`` when
the workflow is compiled. To still catch a misspelt or missing argument at
``Workflow.node``/``build`` time, the builder reads the function's signature
here: the parameter names, which are required, and the first paragraph of
the docstring. Argument *types* are checked when the workflow is compiled,
against the schema ``@tool`` generates from the type hints.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from weft.protocols import ActionContext, ActionKind, ActionSpec, WeftError


class NotDescribable(WeftError, TypeError):
    """The function cannot be described as an action (``*args``/``**kwargs``)."""


def first_paragraph(doc: str | None) -> str:
    """A docstring's first paragraph on one line: an action's description."""
    if not doc:
        return ""
    return inspect.cleandoc(doc).split("\n\n", 1)[0].replace("\n", " ").strip()


def _is_context(annotation: Any) -> bool:
    return annotation is ActionContext or (
        isinstance(annotation, type) and ActionContext in getattr(annotation, "__mro__", ())
    )


def callable_name(fn: Any) -> str:
    """The action name of a callable: its ``__name__``, a partial's function's, an object's
    class's. ``weft.agents._tool_signature.callable_name`` is the same rule on the side of
    ``@tool`` (which this layer may not import): a node and the tool it becomes agree."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def _doc(fn: Any) -> str | None:
    """The docstring of a call, as ``@tool`` reads it: an object's ``__call__``'s first."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not (inspect.isroutine(fn) or isinstance(fn, type)) and callable(fn):
        return inspect.getdoc(type(fn).__call__) or inspect.getdoc(type(fn))
    return inspect.getdoc(fn)


def _hints(fn: Any) -> dict[str, Any]:
    """Type hints where they live: a partial's function's, an object's ``__call__``'s."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not (inspect.isroutine(fn) or isinstance(fn, type)) and callable(fn):
        fn = type(fn).__call__
    try:
        return get_type_hints(fn)
    except Exception:  # an unresolvable hint: @tool reports it at compile time
        return {}


def preview_spec(fn: Callable[..., Any]) -> ActionSpec:
    """The spec ``@tool`` will give ``fn``, as far as its signature tells: names, not types.

    Raises ``NotDescribable`` for ``*args``/``**kwargs``, as ``@tool`` would.
    """
    name = callable_name(fn)
    hints = _hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise NotDescribable(f"@tool {name}: *args/**kwargs cannot be described")
        bare_ctx = pname == "ctx" and pname not in hints and param.default is param.empty
        if bare_ctx or _is_context(hints.get(pname)):
            continue  # the call's context, as @tool gives it: not an argument
        properties[pname] = {}
        if param.default is inspect.Parameter.empty:
            required.append(pname)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return ActionSpec(
        name=name,
        kind=ActionKind.TOOL,
        description=first_paragraph(_doc(fn)),
        input_schema=schema,
    )


def langgraph_preview(graph: Any) -> ActionSpec:
    """A lenient spec for a LangGraph graph until the engine wraps it: its name, any input.

    The real schema comes from ``weft.agents.from_langgraph`` when the workflow is
    compiled; the builder only needs the name the node will call.
    """
    return ActionSpec(
        name=getattr(graph, "name", None) or "langgraph",
        kind=ActionKind.AGENT,
        input_schema={"type": "object"},
    )
