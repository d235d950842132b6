"""Checking and converting the inputs given to a run against the declared ones.

Values typed on a command line arrive as strings; they are converted to the
declared JSON type (``integer``, ``boolean``, ``array`` as JSON...). Values
given from Python are checked, not converted, so a bug shows up as an error.
"""

from __future__ import annotations

import json
import math
from typing import Any

from weft.protocols import InputError, WorkflowSpec

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def _no_constant(name: str) -> Any:
    """``json.loads`` reads ``NaN`` and ``Infinity``, which JSON has not: refuse them."""
    raise ValueError(name)


def _convert(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "string":
            return text
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            if not math.isfinite(number):  # "nan", "inf": float() takes them, JSON has none
                raise ValueError(text)
            return number
        if kind == "boolean":
            low = text.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(text)
        if kind in ("array", "object"):
            value = json.loads(text, parse_constant=_no_constant)  # strict JSON: no NaN
            if not isinstance(value, _PY_TYPES[kind]):
                raise ValueError(text)
            return value
    except ValueError:
        raise InputError(f"input '{name}': expected {kind}, got {text!r}") from None
    return text  # "any": keep the text as given


def resolve_inputs(
    spec: WorkflowSpec, given: dict[str, Any] | None, *, from_text: bool = False
) -> dict[str, Any]:
    """Declared defaults overlaid with ``given``; unknown or missing inputs are errors.

    A workflow that declares no inputs accepts any. ``from_text`` converts
    string values to the declared types (the CLI's ``--input key=value``).
    """
    given = dict(given or {})
    if not spec.inputs:
        return given
    unknown = sorted(set(given) - set(spec.inputs))
    if unknown:
        known = ", ".join(spec.inputs) or "none"
        raise InputError(
            f"workflow '{spec.name}' has no input {', '.join(map(repr, unknown))} "
            f"(declared: {known})"
        )
    resolved: dict[str, Any] = {}
    for name, decl in spec.inputs.items():
        if name in given:
            value = given[name]
            if from_text and isinstance(value, str) and decl.type not in ("string", "any"):
                value = _convert(name, decl.type, value)
            expected = _PY_TYPES.get(decl.type)
            bad_bool = decl.type in ("integer", "number") and isinstance(value, bool)
            if expected is not None and (not isinstance(value, expected) or bad_bool):
                raise InputError(
                    f"input '{name}': expected {decl.type}, got {type(value).__name__} {value!r}"
                )
            if decl.type == "number" and not math.isfinite(value):
                # JSON has no NaN or infinity: the journal and every output would hold null
                raise InputError(f"input '{name}': expected a finite number, got {value!r}")
            resolved[name] = value
        elif decl.required:
            about = f" ({decl.description})" if decl.description else ""
            raise InputError(f"workflow '{spec.name}' needs input '{name}'{about}")
        else:
            resolved[name] = decl.default
    return resolved
