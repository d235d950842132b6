"""The keyword arguments of one chat request, shaped for what its endpoint accepts.

Optional fields are sent only when asked for and not refused before by
this endpoint (``endpoint_profiles``): ``parallel_tool_calls`` and
``tool_choice`` only with tools, ``response_format`` on the structured-output
rung the endpoint takes (``shape_structured`` moves the schema into the
instructions on the lower rungs), ``temperature`` and ``max_tokens`` only
when set. A forced ``tool_choice`` is sent on the rung the endpoint takes
(``shape_tool_choice``).

``suspects`` names what a request sent beyond model and messages, for the
error of a server that failed without saying why.
"""

from __future__ import annotations

import json
from typing import Any

from weft.agents.chat_settings import ModelSettings
from weft.agents.endpoint_profiles import (
    EndpointProfile,
    StructuredMode,
    shape_structured,
    shape_tool_choice,
)


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
    profile: EndpointProfile | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(messages as sent, request keyword arguments)`` for one attempt.

    ``parallel_tool_calls`` is the value to send (``None``: the field is left
    out); the caller has already dropped it when the endpoint refused it.
    ``profile`` (None: a fresh one) says which forced ``tool_choice`` it takes.
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
            sent, tool_choice = shape_tool_choice(
                sent, tools, tool_choice, profile or EndpointProfile()
            )
            request["messages"] = sent
            request["tool_choice"] = tool_choice
    if response_format is not None:
        request["response_format"] = response_format
    if settings.temperature is not None:
        request["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        request["max_tokens"] = settings.max_tokens
    return sent, request


def suspects(request: dict[str, Any], *, streamed: bool = False) -> str:
    """What ``request`` sent that a server may not handle, as the user reads it: the
    optional fields with their values (tools counted, not listed); ``streamed``: it was
    sent as a stream."""
    said: list[str] = []
    for name in ("tool_choice", "parallel_tool_calls", "response_format", "stream_options"):
        if name in request:
            value = request[name]
            if name == "response_format" and isinstance(value, dict):
                value = {"type": value.get("type")}
            said.append(f"{name}={json.dumps(value, separators=(',', ':'))}")
    if request.get("tools"):
        said.append(f"{len(request['tools'])} tool(s)")
    if streamed:
        said.append("stream=true")
    return ", ".join(said)
