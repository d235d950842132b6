"""A tool's input schema as models get it: definitions inlined, pydantic's titles dropped.

pydantic describes a parameter typed with a model or an Enum as a ``$ref``
into ``$defs``. Servers differ in what they make of that: llama.cpp's grammar
and OpenAI's (strict or not) resolve it, but a ``$ref`` with keywords beside
it (``{"$ref": ..., "description": ...}``, which a documented parameter or a
default gives) is refused by OpenAI's strict mode, ignored beside the ``$ref``
by draft-7 validators, and a server that puts the schema in the prompt (many
small local ones) leaves the model to look the definition up itself. Inlined,
the schema says the same thing in one place to all of them. A definition on
a cycle (a tree node whose children are tree nodes) cannot be inlined and
stays a ``$ref`` into the ``$defs`` that is kept for it alone.

pydantic also titles every property after its name (``"title": "Street"`` for
``street``): words a model reads and pays for that say nothing the name does
not. Those are dropped; a title that says more (one set by hand, or a
model's or Enum's class name on an inlined definition) stays.

When inlining would grow the schema past ``_MAX_GROWTH`` times its size (the
same large model referred to from many places), the ``$refs`` stay.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["portable_schema"]

_DEF_KEYS = ("$defs", "definitions")
_MAX_GROWTH = 4
_SMALL = 8_000  # characters: a schema up to this size is inlined whatever it grows by


def portable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with its definitions inlined (bar recursive ones), auto-titles gone."""
    result = copy.deepcopy(schema)
    defs: dict[str, Any] = {}
    for key in _DEF_KEYS:
        found = result.pop(key, None)
        if isinstance(found, dict):
            defs.update({f"#/{key}/{_escaped(name)}": value for name, value in found.items()})
    if not defs:
        return _titles_dropped(result)
    looped = _on_cycles(defs)
    inlined = _inline(result, defs, looped)
    keep = _reachable(inlined, defs, looped)
    if keep:
        kept = {ref: _inline(defs[ref], defs, looped) for ref in keep}
        inlined["$defs"] = {_unescaped(ref.rsplit("/", 1)[-1]): v for ref, v in kept.items()}
        _point_at_defs(inlined)
    size = len(json.dumps(schema))
    if len(json.dumps(inlined)) > max(_MAX_GROWTH * size, _SMALL):
        return _titles_dropped(copy.deepcopy(schema))  # too much repeated: refs are shorter
    return _titles_dropped(inlined)


def _escaped(name: str) -> str:
    """A definition's name as a JSON pointer spells it."""
    return name.replace("~", "~0").replace("/", "~1")


def _unescaped(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _refs_in(node: Any) -> set[str]:
    """Every ``$ref`` string anywhere inside ``node``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _on_cycles(defs: dict[str, Any]) -> frozenset[str]:
    """The definitions that reach themselves through ``$ref``s: they cannot be inlined."""
    edges = {ref: _refs_in(body) & defs.keys() for ref, body in defs.items()}
    looped: set[str] = set()
    for start in defs:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            ref = stack.pop()
            if ref == start:
                looped.add(start)
                break
            if ref not in seen:
                seen.add(ref)
                stack.extend(edges.get(ref, ()))
    return frozenset(looped)


def _inline(node: Any, defs: dict[str, Any], looped: frozenset[str]) -> Any:
    """``node`` with every ``$ref`` to a definition not on a cycle replaced by its body.

    Keywords beside the ``$ref`` (a description, a default) win over the
    definition's own, as the field they are written on is more specific.
    """
    if isinstance(node, list):
        return [_inline(item, defs, looped) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref in defs and ref not in looped:
        body = _inline(copy.deepcopy(defs[ref]), defs, looped)
        beside = {k: _inline(v, defs, looped) for k, v in node.items() if k != "$ref"}
        return {**body, **beside} if isinstance(body, dict) else node
    return {key: _inline(value, defs, looped) for key, value in node.items()}


def _reachable(node: Any, defs: dict[str, Any], looped: frozenset[str]) -> list[str]:
    """The kept (recursive) definitions ``node`` still refers to, directly or through one."""
    todo = [ref for ref in _refs_in(node) if ref in looped]
    seen: list[str] = []
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.append(ref)
        todo.extend(r for r in _refs_in(_inline(defs[ref], defs, looped)) if r in looped)
    return sorted(seen)


def _point_at_defs(node: Any) -> None:
    """Kept definitions all live in ``$defs`` now: ``#/definitions/X`` refs follow them."""
    if isinstance(node, list):
        for item in node:
            _point_at_defs(item)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            node["$ref"] = "#/$defs/" + ref[len("#/definitions/") :]
        for value in node.values():
            _point_at_defs(value)


def _titles_dropped(schema: dict[str, Any]) -> dict[str, Any]:
    _drop_titles(schema)
    return schema


def _auto_title(name: str) -> str:
    """The title pydantic gives a field of this name."""
    return name.title().replace("_", " ").strip()


def _drop_titles(node: Any) -> Any:
    """``node`` without the titles pydantic derived from property names (in place)."""
    if isinstance(node, list):
        for item in node:
            _drop_titles(item)
        return node
    if not isinstance(node, dict):
        return node
    properties = node.get("properties")
    if isinstance(properties, dict):
        for name, prop in properties.items():
            if isinstance(prop, dict) and prop.get("title") == _auto_title(name):
                del prop["title"]
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for prop in value.values():
                _drop_titles(prop)
        elif isinstance(value, dict | list) and key not in ("enum", "const", "default", "examples"):
            _drop_titles(value)
    return node
