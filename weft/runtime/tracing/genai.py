"""An LLM span's messages in the form of the OpenTelemetry GenAI semantic conventions.

weft's ``llm`` spans keep the chat messages as the OpenAI API takes them
(``{"role", "content", "tool_calls"}``, ``{"role": "tool", "tool_call_id",
"content"}``) and the reply as ``{"role": "assistant", "content",
"tool_calls": [{"id", "name", "arguments"}]}`` (``weft.agents.chat_model``).
Exporters send them as ``gen_ai.input.messages`` and
``gen_ai.output.messages``, whose JSON schemas
(``gen-ai-input-messages.json``, ``gen-ai-output-messages.json`` of the
semantic conventions, v1.41) want each message as ``{"role", "parts": [...]}``
with typed parts: ``text`` (``content``), ``tool_call`` (``id``, ``name``,
``arguments``) and ``tool_call_response`` (``id``, ``response``); an output
message also has its ``finish_reason``.

Stored values may have been cut to fit the trace store's size cap; whatever
is not a list of messages any more is passed on as it is.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

#: The OpenAI API's finish reasons that the conventions spell differently.
_FINISH_REASONS = {"tool_calls": "tool_call", "function_call": "tool_call"}


def _arguments(text: Any) -> Any:
    """Tool call arguments as JSON when they parse (the model sends a string), else as sent."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _text_parts(content: Any) -> list[dict[str, Any]]:
    """A message's content as ``text`` parts: a string, or a list of content parts."""
    if content is None or content == "":
        return []
    if isinstance(content, list):
        parts: list[dict[str, Any]] = []
        for item in content:
            if isinstance(item, dict) and item.get("type") == "text":
                parts.append({"type": "text", "content": str(item.get("text", ""))})
            else:
                parts.append({"type": "generic", "content": item})
        return parts
    return [{"type": "text", "content": content if isinstance(content, str) else str(content)}]


def _tool_call_part(call: Any) -> dict[str, Any]:
    """A tool call, in the reply's flat form or the API's ``{"function": {...}}`` form."""
    if not isinstance(call, dict):
        return {"type": "generic", "content": call}
    inner = call.get("function")
    function: dict[str, Any] = inner if isinstance(inner, dict) else call
    return {
        "type": "tool_call",
        "id": call.get("id"),
        "name": str(function.get("name", "")),
        "arguments": _arguments(function.get("arguments")),
    }


def message_parts(message: dict[str, Any]) -> dict[str, Any]:
    """One chat message as ``{"role", "parts"}``."""
    role = str(message.get("role", "user"))
    if role == "tool":
        part = {
            "type": "tool_call_response",
            "id": message.get("tool_call_id"),
            "response": message.get("content"),
        }
        return {"role": role, "parts": [part]}
    parts = _text_parts(message.get("content"))
    if message.get("refusal"):
        parts.append({"type": "refusal", "content": str(message["refusal"])})
    parts.extend(_tool_call_part(call) for call in message.get("tool_calls") or [])
    converted: dict[str, Any] = {"role": role, "parts": parts}
    if message.get("name"):
        converted["name"] = message["name"]
    return converted


def input_messages(value: Any) -> Any:
    """``gen_ai.input.messages`` from the messages an ``llm`` span kept."""
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return [message_parts(m) for m in value]
    return value


def finish_reason(reasons: Any) -> str:
    """The conventions' name of the first finish reason (``stop`` when none was given)."""
    first = reasons[0] if isinstance(reasons, list) and reasons else reasons
    if not isinstance(first, str) or not first:
        return "stop"
    return _FINISH_REASONS.get(first, first)


def output_messages(value: Any, reasons: Any) -> Any:
    """``gen_ai.output.messages`` from the reply an ``llm`` span kept."""
    if isinstance(value, dict):
        return [{**message_parts(value), "finish_reason": finish_reason(reasons)}]
    return value


def server_of(base_url: Any) -> tuple[str, int] | None:
    """``(server.address, server.port)`` of an OpenAI-compatible endpoint (OpenAI's when unset)."""
    if not base_url:
        return "api.openai.com", 443
    try:
        parts = urlsplit(str(base_url))
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)
