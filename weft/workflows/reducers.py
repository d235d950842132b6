"""Named reducers: how a join node turns the inputs that arrived into one ``${input}``.

A reducer is called as ``reducer(values, sources)``: ``values`` are the outputs
that arrived, in the order the node declares its incoming edges (not arrival
order, so a run is reproducible whatever finished first), and ``sources`` are
the names of the nodes they came from, aligned with ``values``. Edges whose
condition was false, and predecessors that failed under ``on_failure:
continue``, are simply absent from both lists.

A reducer that cannot combine what it got raises ``ReducerError`` (a
``ValueError``); the executor fails the join node with that message. Custom
reducers are named ``'module:function'`` and must follow the same signature.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable
from typing import Any

from weft.protocols import DefinitionError, WeftError
from weft.protocols.hints import did_you_mean

Reducer = Callable[[list[Any], list[str]], Any]


class ReducerError(WeftError, ValueError):
    """The inputs of a join cannot be combined by the chosen reducer."""


def reduce_list(values: list[Any], sources: list[str]) -> list[Any]:
    """The values as a list (the default): nothing is lost, the next action decides."""
    return list(values)


def reduce_concat(values: list[Any], sources: list[str]) -> Any:
    """Strings joined by a blank line, or lists concatenated; ``""`` when nothing arrived.

    Mixing strings and lists (or anything else) is refused rather than guessed:
    a silent ``str(list)`` would hand an LLM a Python repr.
    """
    if not values:
        return ""
    if all(isinstance(v, str) for v in values):
        return "\n\n".join(values)
    if all(isinstance(v, list) for v in values):
        return [item for v in values for item in v]
    kinds = ", ".join(
        f"{type(v).__name__} from '{s}'" for v, s in zip(values, sources, strict=False)
    )
    raise ReducerError(f"reducer 'concat' needs all strings or all lists, got {kinds}")


def reduce_first(values: list[Any], sources: list[str]) -> Any:
    """The first value in edge-declaration order, or None; pairs well with ``join: any``."""
    return values[0] if values else None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def reduce_vote(values: list[Any], sources: list[str]) -> Any:
    """The most common value, compared by canonical JSON; a tie goes to the earliest.

    Comparing canonical JSON makes ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}``
    the same vote and lets unhashable values (dicts, lists) take part.
    """
    if not values:
        return None
    counts: dict[str, int] = {}
    first_value: dict[str, Any] = {}
    for value in values:
        key = _canonical(value)
        counts[key] = counts.get(key, 0) + 1
        first_value.setdefault(key, value)
    best = max(counts.values())
    # dicts keep insertion order, so the first key reaching ``best`` is the earliest value
    winner = next(key for key, count in counts.items() if count == best)
    return first_value[winner]


def reduce_dict(values: list[Any], sources: list[str]) -> dict[str, Any]:
    """``{source: value}``, so the next action knows which input came from where."""
    return dict(zip(sources, values, strict=True))


def reduce_merge(values: list[Any], sources: list[str]) -> dict[str, Any]:
    """Dicts merged left to right (shallow): a later edge overrides an earlier key."""
    merged: dict[str, Any] = {}
    for value, source in zip(values, sources, strict=True):
        if not isinstance(value, dict):
            raise ReducerError(
                f"reducer 'merge' needs dicts, got {type(value).__name__} from '{source}'"
            )
        merged.update(value)
    return merged


BUILTIN_REDUCERS: dict[str, Reducer] = {
    "list": reduce_list,
    "concat": reduce_concat,
    "first": reduce_first,
    "vote": reduce_vote,
    "dict": reduce_dict,
    "merge": reduce_merge,
}


def is_reducer_name(name: str) -> bool:
    """True for a builtin name or something shaped like ``'module:function'``.

    Only the shape is checked: importing user code belongs to run time, when the
    workflow's ``python_path`` is in place.
    """
    if name in BUILTIN_REDUCERS:
        return True
    module, sep, attr = name.partition(":")
    return bool(sep) and _is_dotted(module) and _is_dotted(attr)


def _is_dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def unknown_reducer_message(name: str) -> str:
    """The message for a reducer name that is neither builtin nor 'module:function'."""
    hint = did_you_mean(name, BUILTIN_REDUCERS, n=1)
    module, dot, attr = name.rpartition(".")
    if not hint and dot and _is_dotted(module) and attr.isidentifier():
        # ``operator.add`` / ``my_tools.pick``: a Python path written as a LangGraph
        # user writes a reducer, where weft needs the colon of 'module:function'
        hint = f" (did you mean '{module}:{attr}'? a reducer takes (values, sources))"
        if name == "operator.add":  # LangGraph's list reducer: two states, not a join's inputs
            hint = " (LangGraph's operator.add is weft's 'concat')"
    known = ", ".join(BUILTIN_REDUCERS)
    return f"unknown reducer '{name}'{hint}; use one of {known}, or 'module:function'"


def resolve_reducer(
    name: str, import_module: Callable[[str], Any] = importlib.import_module
) -> Reducer:
    """The reducer called ``name``: a builtin, or a function imported from ``'module:function'``.

    ``import_module`` imports the module: the runtime passes one that looks
    in the workflow file's folder first (a ``tools.py`` beside it is that
    file's, whatever another workflow in the process has imported).

    Raises ``DefinitionError`` when the name is unknown, the module cannot be
    imported, or the attribute is missing, not callable, or cannot take
    ``(values, sources)``.
    """
    builtin = BUILTIN_REDUCERS.get(name)
    if builtin is not None:
        return builtin
    if not is_reducer_name(name):
        raise DefinitionError.single(unknown_reducer_message(name))
    module_name, _, attr = name.partition(":")
    try:
        obj: Any = import_module(module_name)
    except ImportError as exc:
        raise DefinitionError.single(
            f"reducer '{name}': cannot import module '{module_name}': {exc}"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise DefinitionError.single(
                f"reducer '{name}': module '{module_name}' has no attribute '{attr}'"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise DefinitionError.single(f"reducer '{name}' is not callable")
    _check_signature(name, obj)
    reducer: Reducer = obj
    return reducer


def _check_signature(name: str, obj: Any) -> None:
    """Refuse a reducer that cannot be called as ``reducer(values, sources)``.

    Checked when the workflow is compiled, so that ``def pick(values)`` fails
    before any node runs, naming the join, rather than at the join after its
    inputs' work is done. Only the arity can be checked: a two-argument
    function written for something else (``operator.add``) passes. A callable
    whose signature Python cannot read (some builtins) passes too.
    """
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    try:
        signature.bind([], [])
    except TypeError as exc:
        raise DefinitionError.single(
            f"reducer '{name}' cannot be called as {name.rpartition(':')[2]}(values, sources): "
            f"{exc}; a reducer takes the list of values and the list of their source nodes"
        ) from None
