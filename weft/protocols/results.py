"""Results are JSON: the one rule that turns an action's output into JSON data, or refuses it.

An output crosses JSON wherever it goes (the bus, the journal, ``weft run
--json``, the next node of a workflow run in another process), so weft holds
every output to JSON when the action returns it, in-process and on an agent
alike: the same output gives the same value, or the same ``OutputNotJSON``
error, wherever the action runs. Before this rule an object JSON cannot hold
passed locally as its ``str()`` and failed remotely with a serializer message.

The rule (docs/protocol.md, "Results are JSON"):

- ``dict`` (any mapping) with string keys, ``list``, ``str``, ``int``,
  ``bool`` and ``None`` are kept as they are; an ``int`` or enum key becomes
  its text, as in JSON;
- a finite ``float`` is kept; NaN, Infinity and -Infinity become ``None``
  (JSON has no such numbers; pydantic's JSON mode does the same);
- a tuple becomes a list; a set or frozenset becomes a list, sorted when its
  items can be compared;
- a pydantic model becomes ``model_dump(mode="json")``; a dataclass instance
  a mapping of its fields; an enum its value;
- ``datetime``, ``date`` and ``time`` become ISO 8601 text; a ``UUID`` and a
  filesystem path their text;
- anything else is refused, naming where it sits and its type: bytes (decode
  them, or base64-encode them: no one encoding is right for every output),
  generators, arbitrary objects; and so are text with a lone surrogate
  (UTF-8 cannot carry it) and nesting deeper than ``MAX_OUTPUT_DEPTH`` levels.

Values already JSON are returned as the same objects (nothing is copied).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from weft.protocols.actions import ActionResult, ActionState, ErrorInfo
from weft.protocols.errors import WeftError

MAX_OUTPUT_DEPTH = 48
"""Deepest nesting of lists and mappings in an output (a bus takes 64 levels per message)."""

OUTPUT_NOT_JSON = "OutputNotJSON"
"""``ErrorInfo.type`` of a result whose output the rule refused."""

#: Kept as they are; so is ``str``, once it is known to encode as UTF-8 (``_text``).
_SCALARS = (int, bool, type(None))
_Part = str | int


class OutputNotJSON(WeftError):
    """An output holds something JSON cannot: ``path`` says where (``result.items[3]``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path = path
        self.problem = problem


class _Refused(Exception):
    """Raised at the refused value; each level on the way up adds its key to ``parts``."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.parts: list[_Part] = []


def json_value(value: Any, *, root: str = "result", max_depth: int = MAX_OUTPUT_DEPTH) -> Any:
    """``value`` as JSON data by the rule above; ``OutputNotJSON`` names what it cannot hold.

    ``root`` starts the path in messages (``result.items[3]``).
    """
    kind = type(value)
    if kind in _SCALARS or (kind is str and value.isascii()):
        return value
    try:
        return _convert(value, max_depth)
    except _Refused as refused:
        raise OutputNotJSON(_path(root, refused.parts[::-1]), refused.problem) from None


def json_result(result: ActionResult, source: str | None = None) -> ActionResult:
    """``result`` with its output held to the rule: converted in place, or an error result.

    An output the rule refuses turns an ``ok`` result into an ``error`` one of
    type ``OutputNotJSON`` (not retryable; ``field`` is the path), its message
    starting with ``source`` (the action's name) like other action errors.
    The executor and the agent host both call this on every result, so the
    error is the same wherever the action ran.
    """
    output = result.output
    kind = type(output)
    if kind in _SCALARS or (kind is str and output.isascii()) or result.state is not ActionState.OK:
        return result
    try:
        converted = json_value(output)
    except OutputNotJSON as exc:
        message = f"{source}: {exc}" if source else str(exc)
        error = ErrorInfo(type=OUTPUT_NOT_JSON, message=message, retryable=False, field=exc.path)
        # Everything else the result says (usage, progress, agent) stays true.
        failed = {"state": ActionState.ERROR, "output": None, "error": error}
        return result.model_copy(update=failed)
    if converted is not output:
        result.output = converted
    return result


def finite(value: Any) -> Any:
    """``value`` with NaN and the infinities as ``None``, for ``json.dumps(allow_nan=False)``.

    Leaves every other value as it is (unlike ``json_value``, it refuses
    nothing), so it suits documents weft prints about itself.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def _convert(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is str:
        return _text(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict or isinstance(value, Mapping):
        return _mapping(value, depth)
    if kind is list:
        return _list(value, depth)
    if kind is tuple or isinstance(value, list | tuple):
        return _list(list(value), depth)
    if isinstance(value, set | frozenset):
        try:
            items = sorted(value)
        except TypeError:
            items = list(value)
        return _list(items, depth)
    return _convert(_other(value), depth)


def _other(value: Any) -> Any:
    """A value of another type as a plain one; refuses what the rule does not know."""
    if isinstance(value, enum.Enum):
        return value.value
    # Subclasses of the plain types that are not enums (numpy.float64 is a float): the plain value.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, BaseModel):
        try:
            return value.model_dump(mode="json")
        except ValueError as exc:  # pydantic_core's PydanticSerializationError
            raise _Refused(f"is {_a(value)} that pydantic cannot dump: {exc}") from None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raise _Refused(
            f"is {_type_name(value)}, which JSON cannot hold: decode it to text, "
            "or base64-encode it"
        )
    raise _Refused(
        f"is {_a(value)}, which JSON cannot hold: return dict, list, str, int, "
        "float, bool, None, or a pydantic model or dataclass of them"
    )


def _converted_at(item: Any, depth: int, part: int | str) -> Any:
    """``item`` converted one level down; a refusal learns where it happened (``part``).

    Called only for values that are not plain already, so the common case
    (strings and numbers) costs no extra call.
    """
    try:
        return _convert(item, depth - 1)
    except _Refused as refused:
        refused.parts.append(part)
        raise


def _list(items: list[Any], depth: int) -> list[Any]:
    if depth <= 0:
        raise _Refused(f"nests deeper than {MAX_OUTPUT_DEPTH} levels")
    out: list[Any] | None = None
    for index, item in enumerate(items):
        kind = type(item)
        new = (
            item
            if kind in _SCALARS or (kind is str and item.isascii())
            else _converted_at(item, depth, index)
        )
        if out is None and new is not item:
            out = items[:index]
        if out is not None:
            out.append(new)
    return items if out is None else out


def _mapping(value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    if depth <= 0:
        raise _Refused(f"nests deeper than {MAX_OUTPUT_DEPTH} levels")
    same = type(value) is dict
    out: dict[str, Any] | None = None if same else {}
    for key, item in value.items():
        if type(key) is str:
            name = key if key.isascii() else _text(key)
        else:
            name = _key(key)
            if out is None:
                out = _copy_until(value, key)
            if name in out or name in value:
                raise _Refused(f"has two keys that are both '{name}' in JSON")
        kind = type(item)
        new = (
            item
            if kind in _SCALARS or (kind is str and item.isascii())
            else _converted_at(item, depth, name)
        )
        if out is None and new is not item:
            out = _copy_until(value, key)
        if out is not None:
            out[name] = new
    return value if out is None else out  # type: ignore[return-value]


def _text(value: str) -> str:
    """``value``, if it encodes as UTF-8: a lone surrogate (``"\\ud800"``) does not."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Refused(
            f"is text with a lone surrogate ({value[exc.start]!r} at index {exc.start}), "
            "which JSON in UTF-8 cannot hold"
        ) from None
    return value


def _copy_until(value: Mapping[Any, Any], stop: Any) -> dict[str, Any]:
    """The entries of ``value`` before ``stop`` (all of them already JSON, with str keys)."""
    head: dict[str, Any] = {}
    for key, item in value.items():
        if key is stop:
            break
        head[key] = item
    return head


def _key(key: Any) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, str):
        return str(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return str(int(key))
    raise _Refused(f"has a key {key!r} ({_type_name(key)}); JSON keys are text")


def _a(value: Any) -> str:
    """The type of ``value`` with its article: "a mytools.Thing", "an object"."""
    name = _type_name(value)
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def _type_name(value: Any) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _path(root: str, parts: list[_Part]) -> str:
    """``result.items[3]``; a long path keeps its first and last steps."""
    steps = [
        f"[{part}]"
        if isinstance(part, int)
        else (f".{part}" if part.isidentifier() else f"[{part!r}]")
        for part in parts
    ]
    if len(steps) > 12:
        steps = [*steps[:5], "…", *steps[-5:]]
    return root + "".join(steps)
