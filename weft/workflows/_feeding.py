"""Whether a generated topology's node can be fed what its edges carry, told before a run.

A topology node without ``with`` is fed as the engine feeds any node without
``with`` (``runtime.engine.arguments``): at a source, the task (one text) goes
to the actor's one input (``casting.entry_parameter``); below a source, the
artifact its edge carries (or its join's reduction of several) goes to the
actor's one input (an object that has that input's key gives the actor its
keys instead, unless the input declares an object: ``compiled.unwrapping_keys``;
either way the one input is filled, so it needs no check here), or, to an
actor of several inputs, is its arguments object when it is a dict (its keys
are the inputs). So an actor of several inputs
(``def f(a: int, b: str)``, a LangGraph graph whose state has two keys) can be
fed only by predecessors whose output is an object with those inputs.

Where what the actors declare shows that this cannot happen (a text, a list
from the join's reducer, an object without a needed key, or with a key a
closed schema refuses), the topology is refused before a file is written, in
one line naming the node and the inputs it cannot fill: without this check the
file was written and every run failed at that node. An actor that declares
nothing (a name served elsewhere, an output of any type) is left to the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from weft.protocols import ActionSpec

__all__ = ["feeding_problem", "one_input"]

#: What the built-in reducers make of several artifacts, for an actor of several inputs:
#: an object whose keys are inputs ("merge"), one of the artifacts ("first", "vote"), or
#: something that is no such object (described for the message).
_NO_OBJECT = {
    "list": "a list",
    "concat": "a text (or list)",
    "dict": "an object keyed by predecessor",
}


def one_input(schema: Mapping[str, Any]) -> str | None:
    """The input a node's artifact goes to whole: the one required, else the only one; as
    the engine's ``compiled.single_parameter`` decides it (``None``: several inputs)."""
    properties = list(schema.get("properties") or {})
    required = list(schema.get("required") or [])
    if len(required) == 1:
        return str(required[0])
    if len(properties) == 1:
        return str(properties[0])
    return None


def feeding_problem(
    node: str,
    spec: ActionSpec,
    with_: Mapping[str, Any],
    sources: Sequence[tuple[str, ActionSpec | None]],
    reducer: str,
) -> str | None:
    """Why ``node``, played by ``spec``'s action with ``with_``, cannot be fed from
    ``sources`` (each predecessor's name and its actor's spec, ``None`` when unknown)
    joined by ``reducer``; ``None`` when it can, or when only the run can tell."""
    schema = spec.input_schema
    properties = list(schema.get("properties") or {})
    required = list(schema.get("required") or [])
    if not sources:
        given = set(with_)
        missing = [p for p in required if p not in given]
        unknown = [p for p in given if properties and p not in properties]
        if not missing and not unknown:
            return None
        return (
            f"node '{node}' ({spec.name}) cannot be fed: a source node gets the task, one "
            f"text, and {spec.name} takes {_inputs(properties, required)}; start with an "
            "actor of one input (or of task and context)"
        )
    if with_ or one_input(schema) is not None:
        return None  # the artifact goes to one input, or the node says what it takes
    takes = _inputs(properties, required)
    closed = schema.get("additionalProperties", True) is False
    for label, keys, what in _artifacts(sources, reducer):
        if what is None or (keys is None and what == "object"):
            continue  # the run will tell: nothing declared, or an object of any keys
        if keys is None:
            return (
                f"node '{node}' ({spec.name}) cannot be fed: it takes {takes}, and {what}; "
                "an actor of several inputs needs predecessors that return an object with them"
            )
        missing = [p for p in required if p not in keys]
        extra = sorted(k for k in keys if closed and k not in properties)
        if missing or extra:
            lacks = (
                f"lacks {', '.join(missing)}"
                if missing
                else f"has {', '.join(extra)}, which it does not take"
            )
            return (
                f"node '{node}' ({spec.name}) cannot be fed: it takes {takes}, and "
                f"{label} an object that {lacks}"
            )
    return None


def _inputs(properties: list[str], required: list[str]) -> str:
    """The inputs as a message names them: the required ones, else all."""
    if not properties:
        return "no input"
    if required:
        return f"{', '.join(required)} (required)"
    return ", ".join(properties)


#: What may reach a node: who passes it (``n0 (g) passes``), its keys when it is an object
#: that declares them, and what it is (``"object"``, a description of another value, or
#: ``None`` when nothing is declared).
Artifact = tuple[str, frozenset[str] | None, str | None]


def _artifacts(sources: Sequence[tuple[str, ActionSpec | None]], reducer: str) -> list[Artifact]:
    """What may reach the node: the one predecessor's output; with a join, each artifact
    its reducer may pass on ("first", "vote"), their merge, or what the reducer makes
    instead; none for a reducer of the user's (the run will tell)."""
    if len(sources) == 1:
        return [_output(*sources[0])]
    if reducer in _NO_OBJECT:
        return [("", None, f"its join's reducer '{reducer}' passes {_NO_OBJECT[reducer]}")]
    if reducer in ("first", "vote"):
        return [_output(*source) for source in sources]
    if reducer == "merge":
        merged: set[str] = set()
        for source in sources:
            _, keys, kind = _output(*source)
            if kind != "object" or keys is None:
                return []  # the run tells (``merge`` refuses what is no dict)
            merged |= keys
        return [(f"its join's reducer '{reducer}' passes", frozenset(merged), "object")]
    return []


def _output(name: str, spec: ActionSpec | None) -> Artifact:
    """What one predecessor passes on, from what its actor declares."""
    label = f"{name} ({spec.name if spec else '?'}) passes"
    if spec is None:
        return label, None, None
    schema = spec.output_schema
    kind = schema.get("type")
    if kind is None:
        return label, None, None  # any value
    if kind == "object":
        properties = schema.get("properties")
        return label, (frozenset(properties) if properties else None), "object"
    return label, None, f"{label} {_a(kind)}"


def _a(kind: Any) -> str:
    """``a string``, ``an integer``, ``a string or null``: a JSON Schema type as a noun."""
    kinds = kind if isinstance(kind, list) else [kind]
    words = " or ".join(str(k) for k in kinds)
    return f"an {words}" if words[:1] in "aeiou" else f"a {words}"
