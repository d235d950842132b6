"""``weft mcp serve``: every tool's output schema is one a validating client can compile.

The TypeScript SDK compiles each tool's ``outputSchema`` when it lists the
tools (AJV), and checks every ``structuredContent`` against it; one schema
with a ``$ref`` it cannot resolve breaks ``listTools`` for all of them. A
non-object output is wrapped as ``{"result": ...}``, so the definitions its
``$ref``s name must move to the wrapper's root. Checked here with
``jsonschema`` (Draft 2020-12, as MCP's schemas are), on the results the
SDK's own client receives.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from mcp import Client
from pydantic import BaseModel

from weft import tool
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop import McpActionServer


class Point(BaseModel):
    x: int
    y: int


class Shape(BaseModel):
    name: str
    points: list[Point]


@tool
def points(n: int) -> list[Point]:
    """A list of models: a wrapped output whose items are a ``$ref``."""
    return [Point(x=i, y=-i) for i in range(n)]


@tool
def corner(n: int) -> Point | None:
    """A model or nothing: a wrapped ``anyOf`` with a ``$ref``."""
    return Point(x=n, y=n) if n else None


@tool
def shape(n: int) -> Shape:
    """An object output with its own ``$defs``, not wrapped."""
    return Shape(name="s", points=[Point(x=i, y=i) for i in range(n)])


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("points", {"n": 2}),
    ("corner", {"n": 3}),
    ("corner", {"n": 0}),
    ("shape", {"n": 2}),
]


def server() -> McpActionServer:
    return McpActionServer(ActionTable([points, corner, shape]))


def test_every_output_schema_resolves_its_references() -> None:
    for listed in server().tools():
        schema = listed.output_schema
        jsonschema.Draft202012Validator.check_schema(schema)
        # validating anything walks every $ref: an unresolvable one raises
        validator = jsonschema.Draft202012Validator(schema)
        list(validator.iter_errors({"result": [{"x": 1, "y": 2}], "name": "n", "points": []}))


def test_a_wrapped_outputs_definitions_sit_at_the_schemas_root() -> None:
    listed = {t.name: t.output_schema for t in server().tools()}
    assert set(listed["points"]) == {"type", "$defs", "properties", "required"}
    assert "$defs" not in listed["points"]["properties"]["result"]
    assert listed["points"]["properties"]["result"]["items"] == {"$ref": "#/$defs/Point"}


@pytest.mark.parametrize(("name", "arguments"), CALLS)
async def test_structured_content_validates_against_the_listed_schema(
    name: str, arguments: dict[str, Any]
) -> None:
    async with Client(server().server()) as client:
        schemas = {t.name: t.output_schema for t in (await client.list_tools()).tools}
        result = await client.call_tool(name, arguments)
    assert not result.is_error
    jsonschema.validate(result.structured_content, schemas[name], jsonschema.Draft202012Validator)
