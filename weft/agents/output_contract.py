"""What an ``LLMAgent`` with ``output_type`` asks its model for, and how it checks the reply.

``output_type`` is a pydantic class (Python users) or a JSON Schema given as
a dict (the ``output_schema`` of a YAML ``llm:`` action, where no class
exists). Both come down to the same three things, so the agent's loop, the
``response_format`` ladder of ``endpoint_profiles`` and the repair re-asks
are one code path:

- the schema the action advertises as its output;
- the ``response_format`` sent (strict when the schema allows it);
- a parser turning the reply into the JSON value the action returns, or a
  ``StructuredOutputError`` naming what is wrong, which the agent sends back
  to the model.

A JSON Schema is checked against its metaschema when the agent is made
(``check_json_schema``), so a mistake in it is found before any model call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for
from pydantic import BaseModel

from weft.agents.openai_tools import sanitize_tool_name
from weft.agents.structured import (
    StructuredOutputError,
    parse_json,
    parse_structured,
    response_format_for,
    strict_json_schema,
)

__all__ = ["OutputContract", "OutputType", "check_json_schema", "output_contract"]

#: What ``LLMAgent(output_type=...)`` takes: a pydantic class or a JSON Schema.
OutputType = type[BaseModel] | dict[str, Any]

#: How many of a reply's schema violations the repair message lists at most.
_SHOWN = 8


@dataclass(frozen=True)
class OutputContract:
    """The output schema, the ``response_format`` asking for it, and the reply's parser."""

    schema: dict[str, Any]
    response_format: dict[str, Any]
    parse: Callable[[str | None], Any]


def output_contract(output_type: OutputType) -> OutputContract:
    """The contract of a pydantic class or a JSON Schema; ``TypeError`` for anything
    else, ``SchemaError`` for a dict that is no valid JSON Schema."""
    if isinstance(output_type, dict):
        return _schema_contract(output_type)
    if isinstance(output_type, type) and issubclass(output_type, BaseModel):
        model = output_type
        return OutputContract(
            schema=model.model_json_schema(),
            response_format=response_format_for(model),
            parse=lambda content: parse_structured(content, model).model_dump(mode="json"),
        )
    raise TypeError(
        f"output_type: {output_type!r} is neither a pydantic model class nor a JSON Schema (dict)"
    )


def check_json_schema(schema: dict[str, Any]) -> None:
    """Raise ``jsonschema.SchemaError`` when ``schema`` is no valid JSON Schema (checked
    against the metaschema its ``$schema`` names, draft 2020-12 without one)."""
    validator_for(schema, default=Draft202012Validator).check_schema(schema)


def _schema_contract(schema: dict[str, Any]) -> OutputContract:
    check_json_schema(schema)
    cls = validator_for(schema, default=Draft202012Validator)
    validator = cls(schema)
    strict_schema, strict = strict_json_schema(schema)
    # OpenAI's strict mode wants an object at the root: anything else is sent non-strict
    strict = strict and schema.get("type") == "object"
    title = schema.get("title")
    json_schema: dict[str, Any] = {
        "name": sanitize_tool_name(title) if isinstance(title, str) and title else "answer",
        "schema": strict_schema if strict else schema,
        "strict": strict,
    }
    description = schema.get("description")
    if isinstance(description, str) and description:
        json_schema["description"] = description[:300]
    shown = title if isinstance(title, str) and title else "the output schema"

    def parse(content: str | None) -> Any:
        data = parse_json(content)
        errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
        if not errors:
            return data
        problems = [
            f"{'.'.join(str(p) for p in err.path) or '(root)'}: {err.message}"
            for err in errors[:_SHOWN]
        ]
        raise StructuredOutputError(
            "schema", f"the reply does not match {shown}: " + "; ".join(problems)
        )

    return OutputContract(
        schema=schema,
        response_format={"type": "json_schema", "json_schema": json_schema},
        parse=parse,
    )
