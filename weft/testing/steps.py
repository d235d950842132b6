"""What a test model answers with: one *step* per chat-completion request.

A step is plain data, so a script reads like the conversation it stands for::

    ScriptedModel([
        tool_call("word_count", {"text": "a b c"}),
        text("The text has 3 words."),
    ])

Kinds of step:

- ``Reply`` — a normal completion: text content, tool calls, or both. Build it
  with ``text``, ``json_output``, ``tool_call``, ``tool_calls`` or
  ``malformed_json`` (content that is not the JSON it pretends to be).
- ``Failure`` — an HTTP error with an OpenAI-shaped body (``error``,
  ``rate_limited``, ``server_error``), for retry paths.
- ``RawResponse`` — bytes served as they are (a broken body, a wrong content
  type), for what a misbehaving server does.

``usage`` on a reply fixes the token counts the server reports; without it
the server estimates them deterministically from the words in the request and
the reply, so usage ledgers can always be checked exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asks for.

    ``arguments`` is a dict (sent as JSON) or a string sent verbatim, which is
    how a test gives the agent malformed tool arguments.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Token counts the server reports for one completion."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful completion (HTTP 200)."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: TokenCounts | None = None
    finish_reason: str | None = None

    def reason(self) -> str:
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


@dataclass(frozen=True, slots=True)
class Failure:
    """An HTTP error response; ``body`` is served as JSON."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A response served byte for byte, whatever it contains."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


Step = Reply | Failure | RawResponse


def _counts(usage: tuple[int, int] | TokenCounts | None) -> TokenCounts | None:
    if usage is None or isinstance(usage, TokenCounts):
        return usage
    return TokenCounts(prompt_tokens=usage[0], completion_tokens=usage[1])


def text(content: str, *, usage: tuple[int, int] | TokenCounts | None = None) -> Reply:
    """A plain text answer; ``usage`` is ``(prompt_tokens, completion_tokens)``."""
    return Reply(content=content, usage=_counts(usage))


def json_output(
    value: BaseModel | dict[str, Any] | list[Any],
    *,
    usage: tuple[int, int] | TokenCounts | None = None,
) -> Reply:
    """An answer whose content is ``value`` as JSON (structured output)."""
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return Reply(content=json.dumps(data), usage=_counts(usage))


def malformed_json(
    content: str = '{"answer": "unterminated', *, usage: tuple[int, int] | TokenCounts | None = None
) -> Reply:
    """Content that claims to be JSON and is not (a truncated object by default)."""
    return Reply(content=content, usage=_counts(usage))


def tool_call(
    name: str,
    arguments: dict[str, Any] | str | None = None,
    *,
    id: str | None = None,
    usage: tuple[int, int] | TokenCounts | None = None,
) -> Reply:
    """A reply asking for one tool call."""
    return Reply(
        tool_calls=(ToolCall(name, {} if arguments is None else arguments, id),),
        usage=_counts(usage),
    )


def tool_calls(
    *calls: ToolCall | tuple[str, dict[str, Any] | str],
    content: str | None = None,
    usage: tuple[int, int] | TokenCounts | None = None,
) -> Reply:
    """A reply asking for several tool calls at once (the client may run them in parallel)."""
    made = tuple(c if isinstance(c, ToolCall) else ToolCall(c[0], c[1]) for c in calls)
    return Reply(content=content, tool_calls=made, usage=_counts(usage))


def error(
    status: int,
    message: str | None = None,
    *,
    type: str | None = None,
    code: str | None = None,
    retry_after: float | None = None,
) -> Failure:
    """An HTTP error with an OpenAI-shaped body ``{"error": {message, type, code}}``."""
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    body = {
        "error": {
            "message": message or f"scripted HTTP {status}",
            "type": type or ("rate_limit_error" if status == 429 else "api_error"),
            "param": None,
            "code": code,
        }
    }
    return Failure(status=status, body=body, headers=headers)


def rate_limited(retry_after: float | None = None) -> Failure:
    """HTTP 429, what a provider answers when a quota is exhausted for the moment."""
    return error(
        429, "Rate limit reached (scripted)", code="rate_limit_exceeded", retry_after=retry_after
    )


def server_error(status: int = 500) -> Failure:
    """A 5xx: a transient fault on the provider's side."""
    return error(status, f"scripted server error {status}", type="server_error")


def raw(
    body: bytes | str, *, status: int = 200, content_type: str = "application/json"
) -> RawResponse:
    """Serve ``body`` exactly (e.g. a truncated JSON document) with ``status``."""
    data = body.encode() if isinstance(body, str) else body
    return RawResponse(body=data, status=status, content_type=content_type)
