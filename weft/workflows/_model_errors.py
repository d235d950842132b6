"""pydantic ``ValidationError`` → weft problems with a location and a plain message.

Shared by the YAML loader (which knows lines and columns) and the Python
builder (which knows only node and field). pydantic reports ``loc`` with alias
names (``with``, not ``with_``), which is exactly the YAML path.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from weft.protocols import NodeSpec, SourceMap, locate
from weft.protocols.hints import close_names, did_you_mean
from weft.protocols.source import Path
from weft.workflows.graph import Problem


def validation_problems(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    source: SourceMap | None = None,
    prefix: Path = (),
    data: Any = None,
) -> list[Problem]:
    """One problem per pydantic error; ``prefix`` is the path of ``model`` inside the file."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors()
    misspelt = _misspelt_fields(errors, model)
    for err in errors:
        loc: Path = tuple(err["loc"])
        if err["type"] == "missing" and loc in misspelt:
            continue  # the unknown field beside it is this one misspelt: one mistake, one line
        message = _message(err, model, loc)
        loc = _refine(loc, err, data)
        path = (*prefix, *loc)
        node: str | None = None
        rest: Path = path
        if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], str):
            node, rest = path[1], path[2:]
        field = ".".join(str(p) for p in rest) or None
        if len(path) >= 3 and path[0] == "actions" and isinstance(path[1], str):
            message = f"action '{path[1]}': {message}"  # the action, not only its field's path
        if node is not None:
            message = _indentation_hint(message, node, rest, err)
            if (message, node) in seen:
                continue  # one misplaced field is one mistake, whatever pydantic found in it
            seen.add((message, node))
        problems.append((message, locate(source, path, node=node, field_name=field)))
    return problems


def _misspelt_fields(errors: list[Any], model: type[BaseModel]) -> set[Path]:
    """The paths of missing fields that an unknown field beside them is a misspelling of
    (``{nod: a}`` for an edge's ``node``)."""
    missing = {tuple(err["loc"]) for err in errors if err["type"] == "missing"}
    found: set[Path] = set()
    for err in errors:
        loc: Path = tuple(err["loc"])
        if err["type"] != "extra_forbidden" or not loc:
            continue
        for name in close_names(str(loc[-1]), fields_at(model, loc[:-1])):
            if (*loc[:-1], name) in missing:
                found.add((*loc[:-1], name))
    return found


def _node_fields() -> frozenset[str]:
    return frozenset(info.alias or name for name, info in NodeSpec.model_fields.items())


def _indentation_hint(message: str, node: str, rest: Path, err: Any) -> str:
    """Say what a mis-indented node usually is, since pydantic's words do not.

    A node's fields written one level too far left become nodes of their own
    (``with`` next to ``agent`` instead of under it), and the node above them
    is left empty (``None``). Both are indentation mistakes far more often
    than anything else, so the message says so instead of pydantic's.
    """
    if node in _node_fields():
        return f"'{node}' is a field of a node, not a node: indent it under the node it belongs to"
    if not rest and "input" in err and err["input"] is None:
        return "the node is empty: indent its fields (action, with, after, ...) under it"
    return message


def _message(err: Any, model: type[BaseModel], loc: Path) -> str:
    kind: str = err["type"]
    last = loc[-1] if loc else ""
    got = err.get("input")
    shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
    if kind == "missing":
        return f"missing required field '{last}'"
    if kind == "extra_forbidden":
        known = fields_at(model, loc[:-1])
        hint = did_you_mean(str(last), known)
        listing = f"; allowed: {', '.join(known)}" if known and not hint else ""
        return f"unknown field '{last}'{hint or _foreign_hint(str(last), known)}{listing}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        if loc == ("nodes",) and isinstance(got, list):  # '- fetch:' for 'fetch:'
            return (
                "expected a mapping of nodes by name, got a list: write each node as "
                "'NAME:' with its fields indented under it, not as '- NAME:'"
            )
        return f"expected a mapping, got {type(got).__name__} {shown}"
    if kind == "list_type":
        return f"expected a list, got {type(got).__name__} {shown}"
    msg: str = err["msg"]
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return f"{msg[:1].lower()}{msg[1:]} (got {shown})"


_PERSONA = "CrewAI's role, goal and backstory are written in 'instructions', the system prompt"
_AGENT_PERSONA = "an agent's CrewAI role, goal and backstory go in llm: {instructions: ...}"

#: Fields of another framework's files (CrewAI's agents.yaml and tasks.yaml) and where each
#: goes in weft, keyed by (a field of the model the foreign field was written in, that field):
#: a user porting a crew writes them first, and 'unknown field' alone does not say what to do.
_FOREIGN_FIELDS: dict[tuple[str, str], str] = {
    ("instructions", "role"): _PERSONA,
    ("instructions", "goal"): _PERSONA,
    ("instructions", "backstory"): _PERSONA,
    ("llm", "role"): _AGENT_PERSONA,
    ("llm", "goal"): _AGENT_PERSONA,
    ("llm", "backstory"): _AGENT_PERSONA,
    ("action", "agent"): "a node names the agent (or tool) it calls in 'action'",
    ("action", "expected_output"): (
        "say what the answer must hold in the agent's task text (with: {task: ...})"
    ),
    ("action", "context"): (
        "a node reads earlier nodes through 'after' and ${NODE} in 'with' "
        '(after: [research], with: {task: ..., context: "${research}"})'
    ),
    ("action", "tools"): "tools belong to the agent: list them under its llm: 'tools'",
}


def _foreign_hint(field: str, known: list[str]) -> str:
    """Where a field of another framework goes in weft, as ``: ...``; ``""`` for other fields."""
    for marker, name in _FOREIGN_FIELDS:
        if name == field and marker in known:
            return f": {_FOREIGN_FIELDS[(marker, name)]}"
    return ""


def _refine(loc: Path, err: Any, data: Any) -> Path:
    """Point a collection-level error at the entry its message names (a bad node name)."""
    if err["type"] != "value_error" or data is None:
        return loc
    target = data
    for part in loc:
        if isinstance(target, dict) and part in target:
            target = target[part]
        else:
            return loc
    if isinstance(target, dict):
        for key in target:
            if f"'{key}'" in err["msg"]:
                return (*loc, key)
    return loc


def fields_at(model: type[BaseModel], path: Path) -> list[str]:
    """The field names (aliases) of the model found at ``path`` below ``model``, if any."""
    current: Any = model
    for part in path:
        current = _step(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _step(current: Any, part: Any) -> Any:
    if isinstance(current, type) and issubclass(current, BaseModel):
        for name, info in current.model_fields.items():
            if part in (name, info.alias):
                return _unwrap(info.annotation)
        return None
    origin = typing.get_origin(current)
    args = typing.get_args(current)
    if origin is dict and len(args) == 2:
        return _unwrap(args[1])
    if origin is list and args:
        return _unwrap(args[0])
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``; other unions → their first model, dict or list member."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            if typing.get_origin(arg) in (dict, list) or (
                isinstance(arg, type) and issubclass(arg, BaseModel)
            ):
                return arg
        return None
    return annotation
