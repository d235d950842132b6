"""A literal argument checked against its parameter's whole schema, before the run.

``validate`` checks a literal's JSON type itself (with a message in its own
words); this adds what the type does not say: bounds (``minimum``,
``minItems``), ``enum``, patterns, the fields of an object. A team's
``max_turns: 0`` or ``members: []`` used to pass ``weft validate`` and fail
only when the node started, after the nodes before it had run. Values with
``${...}`` references are not known before the run and are not checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

#: Keywords whose failure may be the schema's fault, not the value's: generated schemas
#: list overlapping ``oneOf`` variants (LangGraph's messages) that pydantic tells apart.
_UNSURE = frozenset({"oneOf", "anyOf", "allOf", "not", "if", "then", "else"})

#: Keywords that say nothing a literal's JSON type does not (``validate`` checks that).
_PLAIN = frozenset({"type", "title", "description", "default", "examples"})

#: Validators of the property schemas seen, by identity (the schema is kept with its
#: validator, so its id is not reused while cached): a 10,000-node topology has one
#: action's schema on every node.
_VALIDATORS: dict[int, tuple[Mapping[str, Any], Any]] = {}


def _validator(prop: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    held = _VALIDATORS.get(id(prop))
    if held is not None and held[0] is prop:
        return held[1]
    root: dict[str, Any] = dict(prop)
    for defs in ("$defs", "definitions"):
        if defs in schema and defs not in root:
            root[defs] = schema[defs]
    validator = jsonschema.validators.validator_for(root)(root)
    if len(_VALIDATORS) >= 512:
        _VALIDATORS.clear()
    _VALIDATORS[id(prop)] = (prop, validator)
    return validator


def literal_problem(value: Any, prop: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` does not fit the property schema ``prop`` (of the action's input
    ``schema``, whose ``$defs`` it may refer to), in one line; None when it fits, or
    when the schema itself cannot be used (the action checks its arguments anyway)."""
    if _PLAIN.issuperset(prop):  # its type is all it says, and validate checked that
        return None
    try:
        validator = _validator(prop, schema)
        errors = [e for e in validator.iter_errors(value) if e.validator not in _UNSURE]
        error = jsonschema.exceptions.best_match(errors)
    except Exception:  # a broken or exotic schema (a remote $ref): the action checks anyway
        return None
    if error is None:
        return None
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.') + ': ' if where else ''}{error.message}"
