"""The two small languages of a workflow: ``${...}`` references and ``when`` conditions.

References are dotted paths, resolved against a *scope* that holds the
workflow inputs, the predecessors' outputs and the foreach item; they are
compiled once, when the workflow is prepared, so the executor's hot path only
walks a tuple. A string that is exactly one reference keeps the value's type
(``"${list}"`` gives the list); a reference inside a longer string is
interpolated as text.

Conditions are Python expressions checked against a whitelist of syntax (no
imports, no dunder attributes, no lambdas, calls only to a few pure builtins
and string/dict methods) and then evaluated with no builtins. ``output.score``
reads the key ``score`` of a dict, so conditions read like the YAML they sit in.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from weft.protocols import WeftError
from weft.protocols.hints import did_you_mean

REFERENCE_RE = re.compile(r"\$\{\s*([^{}]*?)\s*\}")
_SEGMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$|^\d+$")

#: Names a reference may start with besides a predecessor node.
SCOPE_NAMES = frozenset({"inputs", "input", "item", "index", "iteration"})

Scope = Mapping[str, Any]
Renderer = Callable[[Scope], Any]


class ExpressionError(WeftError, ValueError):
    """A reference or condition is malformed, or cannot be resolved at run time."""


def parse_reference(text: str) -> tuple[str, ...]:
    """``"list.files.0"`` → ``("list", "files", "0")``; raises on a malformed path."""
    parts = tuple(text.split("."))
    if not text or not all(_SEGMENT_RE.match(p) for p in parts):
        raise ExpressionError(f"malformed reference '${{{text}}}': expected NAME(.FIELD)*")
    return parts


def resolve_path(scope: Scope, path: tuple[str, ...]) -> Any:
    """Walk ``path`` through dicts (by key), lists (by index) and objects (by attribute)."""
    root = path[0]
    if root not in scope:
        raise ExpressionError(f"'${{{'.'.join(path)}}}': '{root}' is not available here")
    value = scope[root]
    for depth, part in enumerate(path[1:], start=1):
        where = ".".join(path[:depth])
        if isinstance(value, Mapping):
            if part not in value:
                keys = ", ".join(map(str, list(value)[:10]))
                raise ExpressionError(
                    f"'${{{'.'.join(path)}}}': '{where}' has no key '{part}' (keys: {keys})"
                )
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdigit():
            index = int(part)
            if index >= len(value):
                raise ExpressionError(
                    f"'${{{'.'.join(path)}}}': index {index} out of range "
                    f"('{where}' has {len(value)} items)"
                )
            value = value[index]
        elif hasattr(value, part) and not part.startswith("_"):
            value = getattr(value, part)
        else:
            # ``${node.output}`` is a common guess: a node's reference is its output itself.
            guess = depth == 1 and part in ("output", "outputs", "result")
            hint = f"; the value of '${{{where}}}' is the output itself" if guess else ""
            raise ExpressionError(
                f"'${{{'.'.join(path)}}}': cannot read '{part}' of "
                f"{type(value).__name__} at '{where}'{hint}"
            )
    return value


def references_in(value: Any) -> list[tuple[str, ...]]:
    """Every reference path inside a value (strings, lists and dicts, recursively)."""
    found: list[tuple[str, ...]] = []
    if isinstance(value, str):
        found.extend(parse_reference(m) for m in REFERENCE_RE.findall(value))
    elif isinstance(value, dict):
        for v in value.values():
            found.extend(references_in(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(references_in(v))
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def compile_template(value: Any) -> Renderer:
    """A function scope → value with every reference in ``value`` substituted."""
    if isinstance(value, str):
        matches = list(REFERENCE_RE.finditer(value))
        if not matches:
            return lambda scope: value
        if len(matches) == 1 and matches[0].span() == (0, len(value)):
            path = parse_reference(matches[0].group(1))
            if len(path) == 1:
                key = path[0]

                def direct(scope: Scope) -> Any:
                    if key in scope:
                        return scope[key]
                    return resolve_path(scope, path)

                return direct
            return lambda scope: resolve_path(scope, path)
        pieces: list[str | tuple[str, ...]] = []
        last = 0
        for m in matches:
            pieces.append(value[last : m.start()])
            pieces.append(parse_reference(m.group(1)))
            last = m.end()
        pieces.append(value[last:])

        def interpolate(scope: Scope) -> str:
            return "".join(
                p if isinstance(p, str) else _as_text(resolve_path(scope, p)) for p in pieces
            )

        return interpolate
    if isinstance(value, dict):
        items = [(k, compile_template(v)) for k, v in value.items()]
        if not references_in(value):
            return lambda scope: value
        return lambda scope: {k: render(scope) for k, render in items}
    if isinstance(value, list):
        renders = [compile_template(v) for v in value]
        if not references_in(value):
            return lambda scope: value
        return lambda scope: [render(scope) for render in renders]
    return lambda scope: value


# -- conditions ----------------------------------------------------------------

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.IfExp,
    ast.Call,
    ast.Attribute,
    ast.Subscript,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
    ast.Slice,
)
_SAFE_FUNCTIONS: dict[str, Any] = {
    "len": len,
    "any": any,
    "all": all,
    "min": min,
    "max": max,
    "sum": sum,
    "abs": abs,
    "round": round,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "sorted": sorted,
}
_SAFE_METHODS = frozenset(
    {
        "lower", "upper", "strip", "startswith", "endswith", "split", "count",
        "get", "keys", "values", "items", "find", "replace", "title",
    }
)  # fmt: skip
_CONSTANT_NAMES = {"true": True, "false": False, "null": None, "none": None}
CONDITION_NAMES = frozenset({"output", "inputs", "iteration"})


class _Dot(dict[str, Any]):
    """A dict whose keys also read as attributes, for ``output.score``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return _dot(self[name])
        except KeyError:
            raise ExpressionError(f"no key '{name}' (keys: {', '.join(self)})") from None

    def __getitem__(self, key: str) -> Any:
        return _dot(dict.__getitem__(self, key))


def _dot(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, _Dot):
        return _Dot(value)
    if isinstance(value, list):
        return [_dot(v) for v in value]
    return value


class Condition:
    """A compiled ``when`` expression; ``evaluate`` returns a bool or raises ``ExpressionError``."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(
                f"condition {source!r}: {exc.msg} at column {exc.offset}"
            ) from None
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED_NODES):
                raise ExpressionError(
                    f"condition {source!r}: {type(node).__name__} is not allowed in a condition"
                )
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                raise ExpressionError(f"condition {source!r}: private attribute '{node.attr}'")
            if isinstance(node, ast.Call):
                func = node.func
                ok = (isinstance(func, ast.Name) and func.id in _SAFE_FUNCTIONS) or (
                    isinstance(func, ast.Attribute) and func.attr in _SAFE_METHODS
                )
                if not ok or node.keywords:
                    raise ExpressionError(
                        f"condition {source!r}: only {', '.join(sorted(_SAFE_FUNCTIONS))} "
                        "and simple string/dict methods may be called"
                    )
            if isinstance(node, ast.Name):
                allowed = CONDITION_NAMES | _SAFE_FUNCTIONS.keys() | _CONSTANT_NAMES.keys()
                if node.id not in allowed:
                    hint = did_you_mean(
                        node.id, CONDITION_NAMES, n=1, then="use output, inputs, iteration"
                    )
                    raise ExpressionError(f"condition {source!r}: unknown name '{node.id}'{hint}")
        self._code = compile(tree, f"<condition {source!r}>", "eval")

    def evaluate(self, output: Any, inputs: Mapping[str, Any], iteration: int = 0) -> bool:
        namespace: dict[str, Any] = {
            "__builtins__": {},
            **_SAFE_FUNCTIONS,
            **_CONSTANT_NAMES,
            "output": _dot(output),
            "inputs": _dot(dict(inputs)),
            "iteration": iteration,
        }
        try:
            return bool(eval(self._code, namespace))
        except ExpressionError as exc:
            raise ExpressionError(f"condition {self.source!r}: {exc}") from None
        except Exception as exc:
            raise ExpressionError(
                f"condition {self.source!r} failed: {type(exc).__name__}: {exc}"
            ) from None
