"""What a span says in words, for the terminal: its error, its traceback, an LLM exchange.

``weft trace show`` prints these under a span's line. They read stored spans
(JSON-native attributes) as well as in-memory ones (``ErrorInfo`` objects).
An ``llm`` span keeps the chat messages it sent (``input``) and the reply
(``output``, ``weft.agents.chat_model``); a failed call keeps its error, and
an error raised as an exception keeps its traceback in
``error.details.traceback`` (``ErrorInfo.from_exception``).
"""

from __future__ import annotations

import json
from typing import Any

from weft.runtime.tracing.spans import SpanRecord


def error_of(span: SpanRecord) -> dict[str, Any] | None:
    """A span's error as a dict (``type``, ``message``, ``details``...), or None.

    A run span's error is a plain message; it becomes ``{"message": ...}``.
    """
    error = span.attributes.get("error")
    if error is None or error == "":
        return None
    if isinstance(error, dict):
        return error
    dump = getattr(error, "model_dump", None)
    if dump is not None:
        dumped: dict[str, Any] = dump(mode="json")
        return dumped
    return {"message": str(error)}


def error_line(span: SpanRecord) -> str | None:
    """``Type: message`` of a span's error, or None."""
    error = error_of(span)
    if error is None:
        return None
    kind = error.get("type")
    message = str(error.get("message") or "")
    return f"{kind}: {message}" if kind else message


def traceback_of(span: SpanRecord) -> str | None:
    """The traceback a span's error kept, or None."""
    error = error_of(span)
    details = error.get("details") if error is not None else None
    text = details.get("traceback") if isinstance(details, dict) else None
    return text.rstrip("\n") if isinstance(text, str) and text.strip() else None


def _content(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return json.dumps(content, ensure_ascii=False, default=str)


def _call_text(call: Any) -> str:
    """``name(arguments)`` of a tool call, in the reply's flat form or the API's."""
    if not isinstance(call, dict):
        return str(call)
    inner = call.get("function")
    function: dict[str, Any] = inner if isinstance(inner, dict) else call
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False, default=str)
    return f"{function.get('name', '?')}({arguments})"


def message_text(message: Any) -> tuple[str, str]:
    """``(who, text)`` of one chat message: its role (``tool`` with the call id) and content.

    An assistant message that calls tools reads ``call name(arguments)``, one a
    line, after its text.
    """
    if not isinstance(message, dict):
        return "", _content(message)
    role = str(message.get("role") or "?")
    if role == "tool" and message.get("tool_call_id"):
        role = f"tool {message['tool_call_id']}"
    lines = [_content(message.get("content"))] if message.get("content") else []
    if message.get("refusal"):
        lines.append(f"refused: {message['refusal']}")
    calls = message.get("tool_calls") or []
    lines.extend(f"call {_call_text(call)}" for call in calls)
    return role, "\n".join(lines)


def llm_messages(span: SpanRecord) -> tuple[list[Any], Any]:
    """``(messages sent, reply)`` of an ``llm`` span; empty when content was not kept.

    A value the trace store had to cut into a string is returned as that string.
    """
    sent = span.attributes.get("input")
    reply = span.attributes.get("output")
    if sent is None:
        sent = []
    elif not isinstance(sent, list):
        sent = [sent]
    return sent, reply


def one_line(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``…``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"
