"""A LangGraph graph's state as weft sees it: its JSON Schemas and the check of its input.

LangGraph describes a graph's state with ``get_input_jsonschema()``, which asks
pydantic; pydantic refuses a ``typing.TypedDict`` before Python 3.12 (it wants
``typing_extensions.TypedDict``), and a ``typing.TypedDict`` is the state most
users write first. weft then reads the state's type hints itself and builds the
same schema from a ``typing_extensions`` copy of it, key by key, so the state is
typed on 3.11 as on 3.12: ``weft validate`` names a literal argument of the wrong
type, and the action's tools and cards show the types.

LangGraph checks no key of a ``TypedDict`` state: a wrong type fails inside the
first node that uses it, far from where it was given. ``InputCheck`` validates
such an input at the call (a ``ValidationError`` result naming the key, as a
tool's arguments are checked), and converts it as a tool's are (``"3"`` for an
``int`` becomes ``3``). Keys with a reducer (``Annotated[list, add_messages]``)
are left to LangGraph: the reducer, not the declared type, says what they take
(``add_messages`` takes dicts, tuples and text as well as messages). A pydantic
or dataclass state is built and checked by LangGraph itself.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import typing_extensions
from pydantic import TypeAdapter

__all__ = ["InputCheck", "state_schema"]


def _state_type(graph: Any, which: str) -> Any:
    """The class of the graph's input or output state, from the ``StateGraph`` it was
    compiled from (the graph's own ``input_schema`` property asks pydantic, and fails
    for exactly the states weft reads itself)."""
    builder = getattr(graph, "builder", None)
    return getattr(builder, f"{which}_schema", None) or getattr(builder, "state_schema", None)


def _hints(state: Any) -> dict[str, Any]:
    """The state's keys and their types (``Annotated`` kept); ``{}`` when unreadable."""
    try:
        return typing.get_type_hints(state, include_extras=True)
    except Exception:  # a name the state's module cannot resolve: no types to read
        return {}


def _is_typed_dict(state: Any) -> bool:
    return isinstance(state, type) and typing_extensions.is_typeddict(state)


def _adapter(state: Any, hints: dict[str, Any], *, required: bool) -> TypeAdapter[Any]:
    """A ``TypeAdapter`` of a ``typing_extensions`` copy of ``state`` with ``hints``: a key
    whose type pydantic cannot take (a nested ``typing.TypedDict`` on 3.11) is ``Any``."""
    required_keys = getattr(state, "__required_keys__", frozenset(hints)) if required else ()
    fields: dict[str, Any] = {}
    for key, hint in hints.items():
        try:
            TypeAdapter(hint)
        except Exception:
            hint = Any
        fields[key] = hint if key in required_keys else typing_extensions.NotRequired[hint]
    copy = typing_extensions.TypedDict(state.__name__, fields)  # type: ignore[misc]
    return TypeAdapter(copy)


def state_schema(graph: Any, which: str) -> dict[str, Any]:
    """The JSON Schema of the graph's ``which`` (``input``/``output``) state: LangGraph's,
    else one weft builds from the state's type hints (module docstring), else one of its
    key names alone."""
    try:
        return dict(getattr(graph, f"get_{which}_jsonschema")())
    except Exception:
        pass
    state = _state_type(graph, which)
    hints = _hints(state)
    if _is_typed_dict(state):
        try:
            return _adapter(state, hints, required=True).json_schema()
        except Exception:  # a type no JSON Schema describes: the keys are still known
            pass
    return {"type": "object", "properties": {key: {} for key in hints}}


def state_is_built(graph: Any) -> bool:
    """Whether LangGraph builds the input state as an object (pydantic model, dataclass)."""
    from pydantic import BaseModel

    state = _state_type(graph, "input")
    if not isinstance(state, type):
        return False
    return issubclass(state, BaseModel) or dataclasses.is_dataclass(state)


def _has_reducer(hint: Any) -> bool:
    """Whether ``hint`` is ``Annotated[T, reducer]``: LangGraph merges what is given with
    the reducer, which decides what the key takes."""
    return typing_extensions.get_origin(hint) is typing_extensions.Annotated and any(
        callable(extra) for extra in hint.__metadata__
    )


class InputCheck:
    """Validates and converts a ``TypedDict`` state's input at the call (module docstring).

    ``check`` raises pydantic's ``ValidationError`` (the caller words it as a tool's
    argument errors are worded); a graph with another kind of state, or none weft
    can read, is passed its input as given.
    """

    def __init__(self, graph: Any) -> None:
        state = _state_type(graph, "input")
        self._adapter: TypeAdapter[Any] | None = None
        if not _is_typed_dict(state):
            return
        hints = {key: hint for key, hint in _hints(state).items() if not _has_reducer(hint)}
        if hints:
            try:
                self._adapter = _adapter(state, hints, required=False)
            except Exception:  # pragma: no cover - each key's type was tried alone
                self._adapter = None

    def check(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """``arguments`` with the checked keys converted; the other keys as given."""
        if self._adapter is None:
            return dict(arguments)
        converted: dict[str, Any] = self._adapter.validate_python(arguments)
        return {**arguments, **converted}
