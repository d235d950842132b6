"""What an OpenAI-compatible endpoint accepts, learned by asking and remembered per process.

"OpenAI-compatible" servers differ in exactly the places weft leans on:
OpenAI and vLLM take ``response_format: {"type": "json_schema"}``;
llama-cpp-python's server refuses it (HTTP 500 ``Input should be 'text' or
'json_object'``) but takes ``json_object`` with a ``schema`` beside it;
others take plain ``json_object`` or ignore ``response_format`` entirely;
some refuse ``parallel_tool_calls``, and some refuse the ``stream_options``
a streamed request sends to be told its usage (older vLLM and proxies).
Rather than keep a table of servers (which goes stale with every release),
weft starts with the best mode and steps down one rung when the endpoint
refuses the request *because of* that mode, then remembers the rung for that
endpoint and model so the refusal is paid once per process. The ladder for structured output:

1. ``json_schema`` — the schema as ``response_format`` (strict when possible);
2. ``json_object_schema`` — ``{"type": "json_object", "schema": ...}``, the
   form llama.cpp-based servers turn into a grammar;
3. ``json_object`` — JSON mode, with the schema in the instructions;
4. ``instructions`` — no ``response_format``; the schema in the instructions.

On every rung the reply is still validated against the model and, when it
does not fit, the caller asks again with the error (see ``structured``): a
lower rung costs reliability, never correctness. Each step down is logged
once (logger ``weft.models``, level WARNING) with the endpoint's own words.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

StructuredMode = Literal["json_schema", "json_object_schema", "json_object", "instructions"]

#: The structured-output ladder, best first.
STRUCTURED_MODES: tuple[StructuredMode, ...] = (
    "json_schema",
    "json_object_schema",
    "json_object",
    "instructions",
)

#: The endpoint named when no base URL is set: the ``openai`` client's default.
DEFAULT_ENDPOINT = "https://api.openai.com/v1"

log = logging.getLogger("weft.models")

#: Statuses with which servers refuse a request field they do not support: a
#: validation error (400, 422), or an unhandled one (500, 501) from servers
#: whose request model rejects the value before any handler runs.
_REFUSAL_STATUSES = frozenset({400, 415, 422, 500, 501})
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|structured output", re.I)
_PARALLEL_WORDS = re.compile(r"parallel_tool_calls", re.I)
_STREAM_OPTIONS_WORDS = re.compile(r"stream_options|include_usage", re.I)


@dataclass
class EndpointProfile:
    """What one endpoint and model accept, as far as weft has learned."""

    structured: StructuredMode = "json_schema"
    #: Whether ``parallel_tool_calls`` may be sent (it is sent only when asked for).
    parallel_tool_calls: bool = True
    #: Whether a streamed request may send ``stream_options: {"include_usage": true}``.
    stream_options: bool = True
    #: Whether a request with tools may be streamed: llama-cpp-python's server answers a
    #: streamed request with tools and ``tool_choice: auto`` by an empty stream (its log:
    #: "Automatic streaming tool choice is not supported").
    stream_with_tools: bool = True
    #: Why each step down was taken, oldest first (shown in logs and spans).
    notes: list[str] = field(default_factory=list)


class EndpointProfiles:
    """Thread-safe, process-wide memory of ``EndpointProfile`` per ``(endpoint, model)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._profiles: dict[tuple[str, str], EndpointProfile] = {}

    def get(self, endpoint: str | None, model: str) -> EndpointProfile:
        key = (endpoint or DEFAULT_ENDPOINT, model)
        with self._lock:
            profile = self._profiles.get(key)
            if profile is None:
                profile = self._profiles[key] = EndpointProfile()
            return profile

    def step_down(
        self, endpoint: str | None, model: str, refused: StructuredMode, reason: str
    ) -> StructuredMode | None:
        """Move below ``refused`` (unless another request already did); the new mode,
        or ``None`` when ``refused`` was the last rung."""
        profile = self.get(endpoint, model)
        with self._lock:
            at = STRUCTURED_MODES.index(refused)
            if at + 1 >= len(STRUCTURED_MODES):
                return None
            lower = STRUCTURED_MODES[at + 1]
            if STRUCTURED_MODES.index(profile.structured) <= at:
                profile.structured = lower
                note = f"{refused} refused, using {lower}: {one_line(reason)}"
                profile.notes.append(note)
                log.warning(
                    "%s (%s): structured output %s", endpoint or DEFAULT_ENDPOINT, model, note
                )
            return profile.structured

    def without_parallel_tool_calls(self, endpoint: str | None, model: str, reason: str) -> None:
        self._turn_off(
            endpoint,
            model,
            "parallel_tool_calls",
            f"parallel_tool_calls refused, no longer sent: {one_line(reason)}",
        )

    def without_stream_options(self, endpoint: str | None, model: str, reason: str) -> None:
        """Stop sending ``stream_options``: streamed answers then count the usage the
        server sends on its own, or none (``chat_stream``)."""
        self._turn_off(
            endpoint,
            model,
            "stream_options",
            f"stream_options refused, no longer sent: {one_line(reason)}",
        )

    def without_streaming_tools(self, endpoint: str | None, model: str) -> None:
        """Stop streaming requests that carry tools: the endpoint sent an empty stream
        for one. Their answers then come whole; requests without tools still stream."""
        self._turn_off(
            endpoint,
            model,
            "stream_with_tools",
            "a streamed request with tools got an empty stream: not streamed again",
        )

    def _turn_off(self, endpoint: str | None, model: str, flag: str, note: str) -> None:
        """Set the profile's ``flag`` false, noting and logging it once (the first
        request to learn it; others that were in flight find it done)."""
        profile = self.get(endpoint, model)
        with self._lock:
            if getattr(profile, flag):
                setattr(profile, flag, False)
                profile.notes.append(note)
                log.warning("%s (%s): %s", endpoint or DEFAULT_ENDPOINT, model, note)

    def forget(self) -> None:
        """Forget everything learned (tests; or after an endpoint was upgraded)."""
        with self._lock:
            self._profiles.clear()


#: The profiles every ``ChatModel`` in this process shares.
ENDPOINT_PROFILES = EndpointProfiles()


def one_line(reason: str, limit: int = 300) -> str:
    """A server's error as one short line: whitespace folded, any traceback dropped."""
    text = reason.split('\n  File "', 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refusal_of(
    status: int | None, message: str
) -> Literal["format", "parallel", "stream_options"] | None:
    """Which optional request field an HTTP error refuses, if it names one."""
    if status not in _REFUSAL_STATUSES:
        return None
    if _PARALLEL_WORDS.search(message):
        return "parallel"
    if _STREAM_OPTIONS_WORDS.search(message):
        return "stream_options"
    if _FORMAT_WORDS.search(message):
        return "format"
    return None


def schema_instructions(schema: dict[str, Any], name: str) -> str:
    """The text that asks for the JSON when the endpoint cannot be told by ``response_format``."""
    return (
        f"Reply with only a JSON object (no prose, no code fence) for {name}, "
        f"matching this JSON Schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )


def shape_structured(
    messages: list[dict[str, Any]], response_format: dict[str, Any], mode: StructuredMode
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """``(messages, response_format)`` to send for a ``json_schema`` format on rung ``mode``.

    The caller's list is never changed: the instructions go into a copy,
    merged into the first system message (several chat templates accept only
    one, at the start) or added as one.
    """
    if mode == "json_schema" or response_format.get("type") != "json_schema":
        return messages, response_format
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") or {}
    wanted = schema_instructions(schema, str(spec.get("name") or "the answer"))
    shaped = [dict(m) for m in messages]
    if shaped and shaped[0].get("role") == "system" and isinstance(shaped[0].get("content"), str):
        shaped[0]["content"] = f"{shaped[0]['content']}\n\n{wanted}"
    else:
        shaped.insert(0, {"role": "system", "content": wanted})
    if mode == "json_object_schema":
        return shaped, {"type": "json_object", "schema": schema}
    if mode == "json_object":
        return shaped, {"type": "json_object"}
    return shaped, None
