"""JSON Schemas of the public models, for editors and for clients in other languages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from weft.protocols.actions import ActionCall, ActionResult, ActionSpec, ProgressEvent
from weft.protocols.capability import CapabilityCard
from weft.protocols.events import RunEvent
from weft.protocols.remote import AgentCard, CallAccepted, CallCancel, CallsHeld, DeadLetter
from weft.protocols.workflow import WorkflowSpec

PUBLIC_MODELS: dict[str, type[BaseModel]] = {
    "ActionSpec": ActionSpec,
    "ActionCall": ActionCall,
    "ActionResult": ActionResult,
    "ProgressEvent": ProgressEvent,
    "CapabilityCard": CapabilityCard,
    "RunEvent": RunEvent,
    "AgentCard": AgentCard,
    "CallAccepted": CallAccepted,
    "CallsHeld": CallsHeld,
    "CallCancel": CallCancel,
    "DeadLetter": DeadLetter,
    "Workflow": WorkflowSpec,
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one public model, by the names in ``PUBLIC_MODELS``."""
    try:
        model = PUBLIC_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(PUBLIC_MODELS))
        raise KeyError(f"unknown schema {name!r}; known: {known}") from None
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema.setdefault("title", name)
    return schema


def workflow_json_schema() -> dict[str, Any]:
    """Schema of the YAML workflow format, with the shorthands the loader accepts."""
    schema = json_schema("Workflow")
    defs = schema.get("$defs", {})
    node = defs.get("NodeSpec", {})
    after = node.get("properties", {}).get("after")
    if after is not None:
        edge_ref = {"$ref": "#/$defs/EdgeSpec"}
        node["properties"]["after"] = {
            "description": after.get("description", ""),
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"anyOf": [{"type": "string"}, edge_ref]}},
            ],
        }
    join = node.get("properties", {}).get("join")
    if join is not None:
        node["properties"]["join"] = {
            "description": join.get("description", ""),
            "anyOf": [
                {"enum": ["all", "any", "quorum"]},
                {"$ref": "#/$defs/JoinSpec"},
                {"type": "null"},
            ],
        }
    version = schema.get("properties", {}).get("version")
    if version is not None:  # the loader reads `version: 2` as the text "2"
        version["type"] = ["string", "number"]
    inputs = schema.get("properties", {}).get("inputs")
    if inputs is not None:
        inputs["additionalProperties"] = {
            "anyOf": [{"$ref": "#/$defs/InputSpec"}, {"not": {"type": "object"}}]
        }
    schema["title"] = "weft workflow"
    return schema
