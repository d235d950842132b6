"""Structured output: a pydantic model as a strict ``response_format``, and its validation.

OpenAI's strict JSON-schema mode guarantees the shape only for schemas it
supports: every object closed (``additionalProperties: false``), every
property listed in ``required``, no ``default``. ``strict_json_schema``
rewrites a pydantic schema that way; where that is impossible (an open
``dict[str, X]``) it reports ``strict=False`` and the request is sent
non-strict. Either way the reply is validated here against the model itself,
so a server that ignores ``response_format`` (many compatible ones do) is
caught, and the caller can re-ask with the error.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from weft.agents.openai_tools import sanitize_tool_name
from weft.protocols import WeftError

FailureKind = Literal["malformed_json", "schema"]
M = TypeVar("M", bound=BaseModel)
_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


class StructuredOutputError(WeftError, ValueError):
    """A reply that is not valid JSON (``malformed_json``) or not the model (``schema``)."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind


def strict_json_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``(schema rewritten for strict mode, whether strict mode can be used)``."""
    result = copy.deepcopy(schema)
    defs = result.get("$defs", {})
    ok = _make_strict(result, defs)
    return result, ok


def _make_strict(node: Any, defs: dict[str, Any]) -> bool:
    if isinstance(node, list):
        return all(_make_strict(item, defs) for item in node)
    if not isinstance(node, dict):
        return True
    node.pop("default", None)
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1 and ref.startswith("#/$defs/"):
        # strict mode refuses keywords next to $ref: inline the definition
        target = defs.get(ref.rsplit("/", 1)[-1], {})
        del node["$ref"]
        for key, value in copy.deepcopy(target).items():
            node.setdefault(key, value)
    ok = True
    if node.get("type") == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if extra not in (None, False):
            ok = False  # an open mapping cannot be strict
        node["additionalProperties"] = False
        node.setdefault("properties", {})
        node["required"] = list(node["properties"])
    for key, value in node.items():
        if key in ("properties", "$defs") and isinstance(value, dict):
            ok = all(_make_strict(v, defs) for v in value.values()) and ok
        elif isinstance(value, dict | list):
            ok = _make_strict(value, defs) and ok
    return ok


def response_format_for(model: type[BaseModel]) -> dict[str, Any]:
    """The ``response_format`` asking for JSON that fits ``model`` (strict when possible)."""
    schema, strict = strict_json_schema(model.model_json_schema())
    json_schema: dict[str, Any] = {
        "name": sanitize_tool_name(model.__name__),
        "schema": schema,
        "strict": strict,
    }
    if model.__doc__:
        json_schema["description"] = model.__doc__.strip().split("\n\n")[0][:300]
    return {"type": "json_schema", "json_schema": json_schema}


def strip_fences(content: str) -> str:
    """The JSON inside a Markdown code fence, which some servers add despite the schema."""
    text = content.strip()
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text


def embedded_object(text: str, *, tries: int = 8) -> dict[str, Any] | None:
    """The first JSON object inside prose ("Here is the plan: {...} Hope it helps").

    Models asked for JSON by instructions alone (no ``response_format`` the
    server enforces) often wrap it in a sentence; the object is still the
    answer. Only the first ``tries`` opening braces are tried, so a long
    reply with no JSON costs little.
    """
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1 and tries > 0:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            tries -= 1
            start = text.find("{", start + 1)
            continue
        return value if isinstance(value, dict) else None
    return None


def parse_json(content: str | None) -> Any:
    """The JSON value of a reply (fences stripped, else the first object in its prose);
    ``StructuredOutputError`` (``malformed_json``) when there is none."""
    text = strip_fences(content or "")
    try:
        return json.loads(text, strict=False)  # raw newlines in strings, as tool arguments
    except json.JSONDecodeError as exc:
        data = embedded_object(text)
        if data is None:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise StructuredOutputError(
                "malformed_json",
                f"the reply is not valid JSON ({exc.msg} at char {exc.pos}): {shown!r}",
            ) from None
        return data


def parse_structured(content: str | None, model: type[M]) -> M:
    """Parse and validate a reply; raises ``StructuredOutputError`` saying what is wrong."""
    data = parse_json(content)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:8]:
            where = ".".join(str(p) for p in err["loc"]) or "(root)"
            problems.append(f"{where}: {err['msg']}")
        raise StructuredOutputError(
            "schema", f"the reply does not match {model.__name__}: " + "; ".join(problems)
        ) from None


def repair_prompt(error: StructuredOutputError) -> str:
    """What to tell a model whose structured reply was rejected."""
    return (
        f"Your previous reply was rejected: {error}. "
        "Reply again with only a JSON object that matches the required schema."
    )
