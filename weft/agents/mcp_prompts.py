"""An MCP server's prompts as weft actions, ``prompt.<name>`` (``from_mcp(prompts=True)``).

An MCP prompt is a message template the server renders from string
arguments (``prompts/get``); a client hands the messages to its own model.
In weft that is an action whose output is the rendered messages, ready for
the next node (an ``LLMAgent``'s task, a reducer, a file):

- the prompt's ``name`` gives the action ``prompt.<name>`` (``prefix.prompt.<name>``
  under a prefix; the ``prompt.`` keeps a prompt apart from a tool of the same
  name); its ``description`` (else ``title``) the description;
- each argument is a string property of the input schema, ``required`` as the
  server says; a value that is not a string is sent as JSON text, since MCP
  prompt arguments are strings;
- the output is a list of ``{"role": "user" | "assistant", "content": ...}``,
  the shape of a chat message: the content is the text of a text block, and
  any other block (image, audio, embedded resource) as JSON;
- an unknown prompt or a missing argument is the server's JSON-RPC error, an
  ``McpError`` result with its code;
- a question the server asks while it renders the prompt (elicitation) is
  weft's ``ask``, as for a tool (``_mcp_elicit``): answered from
  ``ActionCall.answers`` by order; without an answer the call ends
  ``needs_input`` with the question, and ``weft resume --answer`` replies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from weft.agents._mcp_call import McpAction
from weft.agents._mcp_connection import McpConnection
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    CapabilityCard,
)

__all__ = ["MESSAGES_SCHEMA", "McpPromptAction", "prompt_key", "prompt_messages", "prompt_spec"]

#: The output schema of every prompt action: chat messages.
MESSAGES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"role": {"type": "string", "enum": ["user", "assistant"]}, "content": {}},
        "required": ["role", "content"],
    },
}


def prompt_key(prompt: str) -> str:
    """The action key of the prompt ``prompt``: ``prompt.<name>``."""
    return f"prompt.{prompt}"


def prompt_spec(prompt: Any, name: str) -> ActionSpec:
    """The ``ActionSpec`` of an MCP ``Prompt`` (see the module docstring)."""
    description = prompt.description or prompt.title or f"MCP prompt '{prompt.name}'"
    properties: dict[str, Any] = {}
    required: list[str] = []
    for argument in prompt.arguments or []:
        schema: dict[str, Any] = {"type": "string"}
        if argument.description:
            schema["description"] = argument.description
        properties[argument.name] = schema
        if argument.required:
            required.append(argument.name)
    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    return ActionSpec(
        name=name,
        kind=ActionKind.TOOL,
        description=description,
        input_schema=input_schema,
        output_schema=MESSAGES_SCHEMA,
        card=CapabilityCard(
            agent_id=name,
            description=description,
            skills=[prompt.title] if prompt.title else [],
            tags=["mcp", "mcp-prompt"],
        ),
    )


def _content(block: Any) -> Any:
    if getattr(block, "type", None) == "text":
        return block.text
    return block.model_dump(mode="json", by_alias=True, exclude_none=True)


def prompt_messages(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """``prompts/get`` messages as chat messages (see the module docstring)."""
    return [{"role": m.role, "content": _content(m.content)} for m in messages]


class McpPromptAction(McpAction):
    """One prompt of an MCP server as an action: its arguments in, its messages out."""

    what = "MCP prompt"

    def __init__(self, connection: McpConnection, prompt: Any, *, name: str | None = None) -> None:
        key = prompt_key(prompt.name)
        super().__init__(connection, key, prompt_spec(prompt, name or key))
        self.prompt_name: str = prompt.name

    def _label(self) -> str:
        return f"MCP prompt '{self.prompt_name}' of {self.connection.target.label}"

    async def _send(self, call: ActionCall, ctx: ActionContext | None) -> Any:
        """``prompts/get``; a required argument left out is refused here, by name (an SDK
        server would answer only "Internal server error")."""
        missing = [
            a for a in self._spec.input_schema.get("required", []) if a not in call.arguments
        ]
        if missing:
            return ActionResult.failure(
                call.call_id,
                "ValidationError",
                f"{self._label()}: missing argument {', '.join(map(repr, missing))}",
                field=missing[0],
            )
        arguments = {
            key: value if isinstance(value, str) else json.dumps(value, default=str)
            for key, value in call.arguments.items()
        }
        return await self.connection.get_prompt(self.prompt_name, arguments, call.answers)

    def _result(self, call_id: str, answer: Any) -> ActionResult:
        return ActionResult.success(call_id, prompt_messages(answer.messages))
