"""The keyword arguments of one chat request, shaped for what its endpoint accepts.

Optional fields are sent only when asked for and not refused before by
this endpoint (``endpoint_profiles``): ``parallel_tool_calls`` and
``tool_choice`` only with tools, ``response_format`` on the structured-output
rung the endpoint takes (``shape_structured`` moves the schema into the
instructions on the lower rungs), ``temperature`` and ``max_tokens`` only
when set.
"""

from __future__ import annotations

from typing import Any

from weft.agents.chat_settings import ModelSettings
from weft.agents.endpoint_profiles import EndpointProfile, StructuredMode, shape_structured


def structured_mode(
    profile: EndpointProfile, response_format: dict[str, Any] | None
) -> StructuredMode | None:
    """The rung to ask a ``json_schema`` format on; ``None`` for any other format or none."""
    if response_format is not None and response_format.get("type") == "json_schema":
        return profile.structured
    return None


def build_request(
    settings: ModelSettings,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None,
    response_format: dict[str, Any] | None,
    mode: StructuredMode | None,
    parallel_tool_calls: bool | None,
    tool_choice: str | dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(messages as sent, request keyword arguments)`` for one attempt.

    ``parallel_tool_calls`` is the value to send (``None``: the field is left
    out); the caller has already dropped it when the endpoint refused it.
    The caller's ``messages`` are never changed.
    """
    sent = messages
    if response_format is not None and mode is not None:
        sent, response_format = shape_structured(messages, response_format, mode)
    request: dict[str, Any] = {"model": settings.model, "messages": sent}
    if tools:
        request["tools"] = tools
        if parallel_tool_calls is not None:
            request["parallel_tool_calls"] = parallel_tool_calls
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
    if response_format is not None:
        request["response_format"] = response_format
    if settings.temperature is not None:
        request["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        request["max_tokens"] = settings.max_tokens
    return sent, request
