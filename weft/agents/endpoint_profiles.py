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

**A forced tool choice** steps down too (``shape_tool_choice``).
llama-cpp-python's server crashes on ``tool_choice: "required"`` and answers
an HTTP 500 with an empty message (its chatml-function-calling handler takes
``auto``, ``none`` and a named function only). ``"required"`` means "call
one of these tools", so it steps down to what keeps that best:

1. the one tool named (``{"type": "function", ...}``), when only one is
   offered: the same constraint, in the form such servers take;
2. ``"auto"``, with the requirement restated in the instructions ("call one
   of the tools a, b; do not answer in text yet"): the model is asked, no
   longer forced.

A named choice that is refused steps down to ``"auto"`` with the tool named
in the instructions. A refusal is an error whose message names
``tool_choice``, or a 5xx with no message at all to a request that forced a
choice (a server that says nothing cannot be read otherwise; the one wrong
guess this allows, a server that failed for another reason, costs the
forcing, not the call).
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
_TOOL_CHOICE_WORDS = re.compile(r"tool_choice", re.I)

Refusal = Literal["format", "parallel", "stream_options", "tool_choice"]


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
    #: Whether ``tool_choice: "required"`` may be sent (llama-cpp-python's server crashes on it).
    tool_choice_required: bool = True
    #: Whether a named function may be sent as ``tool_choice``.
    tool_choice_named: bool = True
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

    def without_tool_choice(
        self, endpoint: str | None, model: str, refused: str | dict[str, Any], reason: str
    ) -> None:
        """Stop sending the forced ``tool_choice`` that was ``refused`` (``"required"`` or a
        named function): later requests get the next rung (``shape_tool_choice``)."""
        if refused == "required":
            flag, what = "tool_choice_required", 'tool_choice "required"'
        else:
            flag, what = "tool_choice_named", "a named tool_choice"
        self._turn_off(endpoint, model, flag, f"{what} refused, stepping down: {one_line(reason)}")

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


def refusal_of(status: int | None, message: str, *, silent: bool = False) -> Refusal | None:
    """Which optional request field an HTTP error refuses, if it names one.

    ``silent``: the server sent no message at all; a 5xx like that is taken as
    a refusal of a forced ``tool_choice`` (the caller checks one was sent).
    """
    if silent and status is not None and status >= 500:
        return "tool_choice"
    if status not in _REFUSAL_STATUSES:
        return None
    if _PARALLEL_WORDS.search(message):
        return "parallel"
    if _STREAM_OPTIONS_WORDS.search(message):
        return "stream_options"
    if _TOOL_CHOICE_WORDS.search(message):
        return "tool_choice"
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
    shaped = _with_instruction(messages, wanted)
    if mode == "json_object_schema":
        return shaped, {"type": "json_object", "schema": schema}
    if mode == "json_object":
        return shaped, {"type": "json_object"}
    return shaped, None


def is_forced(choice: str | dict[str, Any] | None) -> bool:
    """Whether ``choice`` makes the model call a tool: ``"required"`` or a named function."""
    return choice == "required" or isinstance(choice, dict)


def _with_instruction(messages: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """A copy of ``messages`` with ``wanted`` merged into the first system message (or one
    added first): several chat templates accept only one, at the start."""
    shaped = [dict(m) for m in messages]
    if shaped and shaped[0].get("role") == "system" and isinstance(shaped[0].get("content"), str):
        shaped[0]["content"] = f"{shaped[0]['content']}\n\n{wanted}"
    else:
        shaped.insert(0, {"role": "system", "content": wanted})
    return shaped


def shape_tool_choice(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    choice: str | dict[str, Any] | None,
    profile: EndpointProfile,
) -> tuple[list[dict[str, Any]], str | dict[str, Any] | None]:
    """``(messages, tool_choice)`` to send for ``choice`` on what ``profile`` accepts.

    See the module docstring for the rungs; the caller's list is never changed.
    """
    names = [t.get("function", {}).get("name") for t in tools if t.get("type") == "function"]
    if choice == "required" and not profile.tool_choice_required:
        if len(names) == 1 and profile.tool_choice_named:
            return messages, {"type": "function", "function": {"name": names[0]}}
        listed = ", ".join(str(n) for n in names)
        wanted = (
            f"You must call one of the tools ({listed}) now; do not answer in text before "
            "you have called one."
        )
        return _with_instruction(messages, wanted), "auto"
    if isinstance(choice, dict) and not profile.tool_choice_named:
        name = (choice.get("function") or {}).get("name")
        wanted = f"You must call the tool {name} now; do not answer in text before you have."
        return _with_instruction(messages, wanted), "auto"
    return messages, choice
