"""A scripted reply as the ``chat.completion.chunk`` events a streaming server sends.

``OpenAIServer`` answers a request with ``"stream": true`` with these, as
Server-Sent Events, the way OpenAI does: a first chunk with the role, the
content a word at a time, each tool call's id and name once and then its
arguments in pieces, a chunk with the finish reason, and, when the request
asked for it (``stream_options.include_usage``), a last chunk with no choices
and the usage. Joined, they make the same message as the reply without
streaming (``models.reply_json``), which is what the tests compare.
"""

from __future__ import annotations

import re
from typing import Any

from weft.testing.models import ModelRequest, estimate_usage
from weft.testing.steps import Reply

#: How many pieces each tool call's arguments are cut into.
ARGUMENT_PIECES = 3


def _pieces(text: str, count: int) -> list[str]:
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream_events(
    reply: Reply, request: ModelRequest, index: int, *, include_usage: bool
) -> list[dict[str, Any]]:
    """The chunks for ``reply`` (without the final ``[DONE]``)."""
    base = {
        "id": f"chatcmpl-weft-{index}",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": request.model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [chunk({"role": "assistant", "content": ""})]
    for word in re.findall(r"\S*\s*", reply.content or ""):
        if word:
            events.append(chunk({"content": word}))
    for n, call in enumerate(reply.tool_calls):
        head = {
            "index": n,
            "id": call.id or f"call_{index}_{n}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        for piece in _pieces(call.arguments_json(), ARGUMENT_PIECES):
            events.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": piece}}]}))
    events.append(chunk({}, reply.reason()))
    if include_usage:
        counts = reply.usage or estimate_usage(request, reply)
        usage = {
            "prompt_tokens": counts.prompt_tokens,
            "completion_tokens": counts.completion_tokens,
            "total_tokens": counts.prompt_tokens + counts.completion_tokens,
        }
        events.append({**base, "choices": [], "usage": usage})
    return events
