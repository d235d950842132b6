"""The ``llm`` span of one chat request, handed to the context's ``record_span`` hook.

The span's shape is described in ``weft.agents.chat_model``. Agents must not
import the runtime, so the hook is duck-typed: any ``ctx`` with a callable
``record_span`` receives the span as a dict, and the runtime turns it into a
span whose parent is the current call.
"""

from __future__ import annotations

import time
from typing import Any

from weft.agents.chat_errors import Classified
from weft.agents.chat_settings import ModelSettings
from weft.agents.chat_usage import Completion
from weft.agents.endpoint_profiles import StructuredMode
from weft.protocols import ErrorInfo, Usage


def wants_spans(ctx: Any) -> bool:
    """Whether ``ctx`` takes spans (building one costs a copy of the messages)."""
    return ctx is not None and callable(getattr(ctx, "record_span", None))


def record_span(ctx: Any, span: dict[str, Any]) -> None:
    """Hand ``span`` to ``ctx.record_span`` when there is one."""
    hook = getattr(ctx, "record_span", None) if ctx is not None else None
    if callable(hook):
        hook(span)


def llm_span(
    settings: ModelSettings,
    started: float,
    attempts: int,
    messages: list[dict[str, Any]],
    mode: StructuredMode | None,
    *,
    trace_content: bool,
    completion: Completion | None = None,
    error: Classified | None = None,
    cancelled: bool = False,
    tool_choice: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """The span of a request started at ``started``: answered (``completion``), failed
    (``error``), or ``cancelled`` before an answer came (status ``cancelled``, ending now:
    a run stopped mid-request shows what it was waiting on, and for how long).

    ``tool_choice``: ``(sent, requested)`` when the endpoint's profile stepped a forced
    choice down (``endpoint_profiles.shape_tool_choice``); None when sent as asked.
    """
    tool_calls = getattr(completion.message, "tool_calls", None) if completion else None
    reason = completion.finish_reason if completion else None
    answered_by = completion.model if completion else None
    attributes: dict[str, Any] = {
        "gen_ai.request.model": settings.model,
        "gen_ai.response.model": answered_by if answered_by != settings.model else None,
        "gen_ai.response.finish_reasons": [reason] if reason else None,
        "llm.base_url": settings.base_url,
        "llm.attempts": attempts,
        "llm.structured_output": mode,
        "llm.tool_choice": _choice_name(tool_choice[0]) if tool_choice else None,
        "llm.tool_choice_requested": _choice_name(tool_choice[1]) if tool_choice else None,
        "llm.streamed": True if completion and completion.streamed else None,
        "llm.usage_estimated": True if completion and completion.usage_estimated else None,
        "llm.tool_calls": [tc.function.name for tc in tool_calls or [] if hasattr(tc, "function")],
        # A copy: the caller goes on appending to its list of messages.
        "input": list(messages) if trace_content else None,
        "output": reply_of(completion.message) if completion and trace_content else None,
        "usage": completion.usage if completion else Usage(),
        "error": ErrorInfo(type=error.error_type, message=error.short, retryable=error.retryable)
        if error
        else None,
    }
    return {
        "name": f"chat {settings.model}",
        "kind": "llm",
        "start": started,
        "end": time.time(),
        "status": "cancelled" if cancelled else "error" if error else "ok",
        "attributes": attributes,
    }


def reply_of(message: Any) -> dict[str, Any]:
    """An assistant message as a plain dict: role, content, refusal and tool calls when set."""
    reply: dict[str, Any] = {"role": "assistant", "content": getattr(message, "content", None)}
    refusal = getattr(message, "refusal", None)
    if refusal:
        reply["refusal"] = refusal
    calls = []
    for tc in getattr(message, "tool_calls", None) or []:
        function = getattr(tc, "function", None)
        if function is not None:
            calls.append({"id": tc.id, "name": function.name, "arguments": function.arguments})
    if calls:
        reply["tool_calls"] = calls
    return reply


def _choice_name(choice: Any) -> Any:
    """A ``tool_choice`` as a span shows it: the string, or ``function:<name>``."""
    if isinstance(choice, dict):
        return f"function:{(choice.get('function') or {}).get('name')}"
    return choice
