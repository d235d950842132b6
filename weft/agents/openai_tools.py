"""Actions as OpenAI function tools: the Agent-as-Tool bridge.

An LLM sees every action it may call (tool, agent, workflow, remote agent)
as an OpenAI function whose parameters are the action's input JSON Schema.
OpenAI restricts function names to ``^[a-zA-Z0-9_-]{1,64}$`` while weft
action names are free-form (``research.web``, ``team/writer``), so names are
sanitised and a reverse map turns the model's choice back into the action.
Two actions whose names sanitise alike get distinct suffixes, never a clash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from weft.agents._tool_schema import portable_schema
from weft.protocols import ActionSpec

TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_DESCRIPTION = 1024


def sanitize_tool_name(name: str) -> str:
    """``name`` made valid for OpenAI: invalid characters become ``_``, at most 64 chars."""
    cleaned = _INVALID.sub("_", name)[:64]
    return cleaned or "tool"


def function_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema as OpenAI function parameters (always an object schema).

    The one place a tool's schema is shaped for models: definitions are
    inlined where they are not recursive and pydantic's automatic titles
    dropped (``_tool_schema``), so that every server reads the same thing.
    """
    params = portable_schema(schema) if schema else {}
    params.pop("$schema", None)
    params.pop("title", None)
    if params.get("type") != "object":
        params = {**params, "type": "object"}
    params.setdefault("properties", {})
    return params


class ToolSet:
    """The function tools offered to a model, and the way back from tool name to action."""

    def __init__(self, specs: Sequence[ActionSpec]) -> None:
        self.tools: list[dict[str, Any]] = []
        self._actions: dict[str, str] = {}
        for spec in specs:
            tool_name = self._unique(sanitize_tool_name(spec.name))
            self._actions[tool_name] = spec.name
            function: dict[str, Any] = {
                "name": tool_name,
                "parameters": function_parameters(spec.input_schema),
            }
            description = spec.description or (spec.card.description if spec.card else "")
            if description:
                function["description"] = description[:_MAX_DESCRIPTION]
            self.tools.append({"type": "function", "function": function})

    def _unique(self, base: str) -> str:
        name, n = base, 1
        while name in self._actions:
            n += 1
            suffix = f"_{n}"
            name = base[: 64 - len(suffix)] + suffix
        return name

    def action_for(self, tool_name: str) -> str | None:
        """The action behind a tool name the model used, or None if it made one up."""
        return self._actions.get(tool_name)

    def wire_name(self, action: str) -> str:
        """The tool name the model sees for ``action`` (names are sanitised for the API)."""
        for tool_name, name in self._actions.items():
            if name == action:
                return tool_name
        return sanitize_tool_name(action)

    def __len__(self) -> int:
        return len(self.tools)
