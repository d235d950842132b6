"""Actions as OpenAI function tools: the Agent-as-Tool bridge.

An LLM sees every action it may call (tool, agent, workflow, remote agent)
as an OpenAI function whose parameters are the action's input JSON Schema.
OpenAI restricts function names to ``^[a-zA-Z0-9_-]{1,64}$`` while weft
action names are free-form (``research.web``, ``team/writer``), so names are
sanitised and a reverse map turns the model's choice back into the action.
Two actions whose names sanitise alike get distinct suffixes, never a clash.

An agent with a session (``weft.agents.sessions``) is offered without its
``conversation_id``: a model would have to invent one. ``ToolSet.arguments_for``
fills it in from the caller's conversation (``<caller's id>/<agent>``), else
leaves it to the agent's store default, else scopes it to the caller's call
(``<call key>/<agent>``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from weft.agents._tool_schema import portable_schema
from weft.agents.sessions import is_session_input, without_session
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

    def __init__(
        self, specs: Sequence[ActionSpec], *, conversation: str | None = None, call_key: str = ""
    ) -> None:
        """``conversation``: the caller's conversation, if it has one; ``call_key``: the
        caller's call (what scopes a session agent's conversation without one), best its
        work key (``ActionContext.idempotency_key``: one per run and node, the same when
        the run is resumed, so a resumed caller's sub-agent goes on where it was)."""
        self.tools: list[dict[str, Any]] = []
        self._actions: dict[str, str] = {}
        #: Session agents by tool name: whether their store names a default conversation.
        self._sessions: dict[str, bool] = {}
        self._conversation = conversation
        # no call to scope by: a conversation of this tool set's own, never one shared
        self._call_key = call_key or uuid.uuid4().hex
        for spec in specs:
            tool_name = self._unique(sanitize_tool_name(spec.name))
            self._actions[tool_name] = spec.name
            schema = spec.input_schema
            if is_session_input(schema):
                self._sessions[tool_name] = "conversation_id" not in schema.get("required", [])
                schema = without_session(schema)
            function: dict[str, Any] = {
                "name": tool_name,
                "parameters": function_parameters(schema),
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

    def arguments_for(self, tool_name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments to call ``tool_name`` with: the model's, and for an agent with a
        session the conversation it goes on (any the model made up is replaced)."""
        if tool_name not in self._sessions:
            return arguments
        given = {k: v for k, v in arguments.items() if k != "conversation_id"}
        agent = self._actions[tool_name]
        if self._conversation:
            given["conversation_id"] = f"{self._conversation}/{agent}"
        elif not self._sessions[tool_name]:  # the agent's store names no default
            given["conversation_id"] = f"{self._call_key}/{agent}"
        return given

    def wire_name(self, action: str) -> str:
        """The tool name the model sees for ``action`` (names are sanitised for the API)."""
        for tool_name, name in self._actions.items():
            if name == action:
                return tool_name
        return sanitize_tool_name(action)

    def __len__(self) -> int:
        return len(self.tools)
