"""The parameters a model is offered: definitions inlined (bar recursive ones), no title noise.

The action's own ``input_schema`` keeps pydantic's form (validation and agent
cards read it); only what goes to a model as a function tool's ``parameters``
is reshaped (``openai_tools.function_parameters``).
"""

from __future__ import annotations

import enum
import json
from typing import Any

from pydantic import BaseModel, Field

from weft import tool
from weft.agents import ToolSet
from weft.agents._tool_schema import portable_schema
from weft.agents.openai_tools import function_parameters


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


class Address(BaseModel):
    """Where a parcel goes."""

    street: str
    zip_code: str


class Parcel(BaseModel):
    to: Address
    size: Size = Size.SMALL
    note: str | None = None


class Category(BaseModel):
    """A category and its subcategories, as deep as they go."""

    name: str
    parent_address: Address | None = None
    children: list[Category] = []


def parameters(action: Any) -> dict[str, Any]:
    [offered] = ToolSet([action.spec]).tools
    return offered["function"]["parameters"]  # type: ignore[no-any-return]


def test_nested_models_are_inlined_and_their_definitions_dropped() -> None:
    @tool
    def ship(parcel: Parcel) -> str:
        return "ok"

    offered = parameters(ship)
    assert "$defs" not in offered and "$ref" not in json.dumps(offered)
    to = offered["properties"]["parcel"]["properties"]["to"]
    assert to["type"] == "object" and to["required"] == ["street", "zip_code"]
    assert to["description"] == "Where a parcel goes."  # the model's docstring came along
    assert "$defs" in ship.spec.input_schema  # the action's own schema is untouched


def test_an_enum_is_inlined_with_its_default_beside_it() -> None:
    @tool
    def ship(size: Size = Size.LARGE) -> str:
        return "ok"

    assert parameters(ship)["properties"]["size"] == {
        "enum": ["small", "large"],
        "type": "string",
        "default": "large",
    }  # fmt: skip (its title "Size" says no more than the parameter's name)


def test_an_optional_field_stays_a_union_with_null_and_its_default() -> None:
    @tool
    def ship(parcel: Parcel) -> str:
        return "ok"

    note = parameters(ship)["properties"]["parcel"]["properties"]["note"]
    assert note == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}


def test_a_recursive_model_stays_a_ref_and_only_it_is_kept_in_defs() -> None:
    @tool
    def file(category: Category) -> str:
        return "ok"

    offered = parameters(file)
    assert offered["properties"]["category"] == {"$ref": "#/$defs/Category"}
    assert list(offered["$defs"]) == ["Category"]  # Address was inlined into it
    kept = offered["$defs"]["Category"]["properties"]
    assert kept["children"]["items"] == {"$ref": "#/$defs/Category"}
    assert kept["parent_address"]["anyOf"][0]["required"] == ["street", "zip_code"]


def test_a_description_beside_a_ref_wins_over_the_definitions() -> None:
    @tool
    def ship(to: Address) -> str:
        """Ship a parcel.

        Args:
            to: The receiver's address.
        """
        return "ok"

    assert parameters(ship)["properties"]["to"]["description"] == "The receiver's address."


def test_automatic_titles_go_but_titles_that_say_more_stay() -> None:
    @tool
    def label(title: str, zip_code: str, n: int = Field(2, title="Number of copies")) -> str:
        return "ok"

    offered = parameters(label)["properties"]
    assert offered["title"] == {"type": "string"}  # a parameter named title is kept
    assert offered["zip_code"] == {"type": "string"}  # pydantic's "Zip Code" is gone
    assert offered["n"]["title"] == "Number of copies"


def test_draft_seven_definitions_from_another_source_are_inlined_too() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"$ref": "#/definitions/A"}, "t": {"$ref": "#/definitions/T"}},
        "definitions": {
            "A": {"type": "integer"},
            "T": {"type": "object", "properties": {"next": {"$ref": "#/definitions/T"}}},
        },
    }
    offered = function_parameters(schema)
    assert offered["properties"]["a"] == {"type": "integer"}
    assert offered["properties"]["t"] == {"$ref": "#/$defs/T"}
    assert offered["$defs"]["T"]["properties"]["next"] == {"$ref": "#/$defs/T"}
    assert "definitions" not in offered


def test_a_definition_used_everywhere_stays_a_ref_when_inlining_would_balloon() -> None:
    big = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(60)}}
    schema = {
        "type": "object",
        "properties": {f"p{i}": {"$ref": "#/$defs/Big"} for i in range(30)},
        "$defs": {"Big": big},
    }
    offered = portable_schema(schema)
    assert offered["properties"]["p0"] == {"$ref": "#/$defs/Big"}
    assert offered["$defs"]["Big"] == big


def test_a_schema_without_definitions_only_loses_its_automatic_titles() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"a": {"type": "integer", "title": "A"}},
    }
    assert portable_schema(schema) == {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert schema["properties"]["a"]["title"] == "A"  # a copy: the caller's schema is kept
