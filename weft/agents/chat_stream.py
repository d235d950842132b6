"""One chat request made with ``stream=True``, put back together as the reply it stands for.

``ChatSession.complete(stream=True)`` calls ``streamed_completion`` in place
of a plain ``create``: the text pieces go to a ``TextDeltas`` as they come,
and the chunks are assembled into an ``openai`` ``ChatCompletion`` equal to
the one the same request without streaming returns (content, refusal, tool
calls whose ids, names and argument pieces arrive across chunks, finish
reason, model, usage), so everything after the request (tool loop, spans,
usage ledger, structured output) cannot tell the two apart.

Usage: the request asks for it with ``stream_options: {"include_usage":
true}`` (the final chunk then carries it) unless the endpoint refused that
field before (``endpoint_profiles``); a server that ignores the option, or
sends usage on another chunk, is read the same way (the last ``usage`` seen
wins). One that sends none (llama-cpp-python's server, seen here) gets an
estimate: the chunks that carried generated text or tool-call pieces, one
token each, as completion tokens (these servers send a chunk per token), and
``estimate_prompt_tokens`` of the request as prompt tokens; the completion
says so (``usage_estimated``, and the ``llm`` span's ``llm.usage_estimated``).
Measured against llama-cpp-python's server with SmolLM2 (its non-streamed
usage for the same requests): the completion count was exact; the prompt
estimate was within about a third, low for markdown and code (577 real / 514
estimated, 953 / 764, 681 / 512), high for plain repetitive prose (284 / 384),
close for short prompts (12 / 10, 36 / 41, 35 / 35). Close enough for a token
budget, where counting no prompt tokens (as before) missed three quarters of
a long prompt's request.

Servers differ in how they cut tool calls: OpenAI, vLLM and llama.cpp give
each call an ``index`` and send its id and name once, then argument pieces;
some omit ``index`` (a new id then starts a new call) or repeat the whole
name on every piece (not appended twice). Any further string field of a
delta (``reasoning_content`` from reasoning models) is joined like the
content and kept on the message, as a server without streaming would send it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weft.agents.streaming import TextDeltas, progress_reporter

#: Characters per token of English text, the usual rule of thumb for BPE tokenizers.
CHARS_PER_TOKEN = 4
#: Tokens a chat template adds around each message (role markers), and to open the reply.
_PER_MESSAGE, _REPLY_OPENER = 4, 3


def estimate_prompt_tokens(request: Mapping[str, Any]) -> int:
    """Prompt tokens of a chat ``request`` by rule of thumb, for a server that reports none.

    The characters of the messages' content and tool calls, and of the tool
    definitions, at ``CHARS_PER_TOKEN`` each, plus what a chat template adds
    per message. Within about a third of a real tokenizer on English text;
    weft has no tokenizer of its own for every model an endpoint may serve.
    """
    messages = request.get("messages") or []
    chars = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif content is not None:  # content parts
            chars += len(json.dumps(content, default=str))
        if message.get("tool_calls"):
            chars += len(json.dumps(message["tool_calls"], default=str))
    if request.get("tools"):
        chars += len(json.dumps(request["tools"], default=str))
    return math.ceil(chars / CHARS_PER_TOKEN) + _PER_MESSAGE * len(messages) + _REPLY_OPENER


#: Delta fields assembled on their own; any other string field is joined as it comes.
_KNOWN = frozenset({"role", "content", "refusal", "tool_calls", "function_call"})


@dataclass
class _Call:
    id: str | None = None
    type: str = "function"
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    role: str = "assistant"
    content: list[str] | None = None
    refusal: list[str] | None = None
    extras: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[int, _Call] = field(default_factory=dict)
    #: The legacy ``function_call`` some servers send beside ``tool_calls`` (llama.cpp).
    function: _Call | None = None
    finish_reason: str | None = None


def _function_piece(call: _Call, function: Any) -> None:
    """A piece of a function's name or arguments; a name sent again whole is not doubled."""
    name = getattr(function, "name", None)
    if name and name != call.name:
        call.name = name if not call.name else call.name + name
    arguments = getattr(function, "arguments", None)
    if arguments:
        call.arguments.append(arguments)


class StreamAssembler:
    """Chunks in, one ``ChatCompletion`` out; ``add`` returns the new text of choice 0."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = 0
        self.usage: Any = None
        self.fingerprint: str | None = None
        self.chunks = 0
        #: Chunks that carried generated text or tool-call pieces (the usage estimate).
        self.generated = 0
        self._choices: dict[int, _Choice] = {}

    def add(self, chunk: Any) -> str:
        self.chunks += 1
        self.id = self.id or str(getattr(chunk, "id", "") or "")
        self.model = self.model or str(getattr(chunk, "model", "") or "")
        self.created = self.created or int(getattr(chunk, "created", 0) or 0)
        self.fingerprint = self.fingerprint or getattr(chunk, "system_fingerprint", None)
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        text = ""
        for choice in getattr(chunk, "choices", None) or []:
            index = int(getattr(choice, "index", 0) or 0)
            into = self._choices.setdefault(index, _Choice())
            delta = getattr(choice, "delta", None)
            if delta is not None:
                if getattr(delta, "content", None) or getattr(delta, "tool_calls", None):
                    self.generated += 1
                piece = self._delta(into, delta)
                if index == 0:
                    text += piece
            if getattr(choice, "finish_reason", None):
                into.finish_reason = choice.finish_reason
        return text

    def _delta(self, into: _Choice, delta: Any) -> str:
        into.role = getattr(delta, "role", None) or into.role
        content = getattr(delta, "content", None)
        if content is not None:
            into.content = [*(into.content or []), content]
        refusal = getattr(delta, "refusal", None)
        if refusal is not None:
            into.refusal = [*(into.refusal or []), refusal]
        for piece in getattr(delta, "tool_calls", None) or []:
            self._tool_piece(into, piece)
        legacy = getattr(delta, "function_call", None)
        if legacy is not None:
            into.function = into.function or _Call()
            _function_piece(into.function, legacy)
        for name, value in (getattr(delta, "model_extra", None) or {}).items():
            if name not in _KNOWN and isinstance(value, str):
                into.extras.setdefault(name, []).append(value)
        return content or ""

    @staticmethod
    def _tool_piece(into: _Choice, piece: Any) -> None:
        index = getattr(piece, "index", None)
        piece_id = getattr(piece, "id", None)
        if index is None:  # a server without indexes: a new id is a new call
            last = max(into.calls) if into.calls else -1
            same = last >= 0 and (not piece_id or into.calls[last].id in (None, piece_id))
            index = last if same else last + 1
        call = into.calls.setdefault(int(index), _Call())
        call.id = call.id or piece_id
        call.type = getattr(piece, "type", None) or call.type
        function = getattr(piece, "function", None)
        if function is not None:
            _function_piece(call, function)

    def completion(self, prompt_estimate: int = 0) -> Any:
        """The ``ChatCompletion`` the chunks make; without any chunk, one without choices.

        ``prompt_estimate`` is the prompt tokens to report when the server sent no usage.
        """
        from openai.types.chat import ChatCompletion

        choices = []
        for index, choice in sorted(self._choices.items()):
            content = "".join(choice.content) if choice.content is not None else None
            if not content and choice.calls:
                content = None  # servers open with content "" where a plain reply has null
            message: dict[str, Any] = {"role": choice.role, "content": content}
            if choice.refusal is not None:
                message["refusal"] = "".join(choice.refusal)
            if choice.calls:
                message["tool_calls"] = [
                    {
                        "id": call.id or f"call_{index}_{n}",
                        "type": call.type,
                        "function": {"name": call.name, "arguments": "".join(call.arguments)},
                    }
                    for n, call in sorted(choice.calls.items())
                ]
            if choice.function is not None:
                legacy = choice.function
                message["function_call"] = {
                    "name": legacy.name,
                    "arguments": "".join(legacy.arguments),
                }
            message.update({name: "".join(parts) for name, parts in choice.extras.items()})
            choices.append(
                {"index": index, "message": message, "finish_reason": choice.finish_reason}
            )
        usage = self.usage.model_dump() if hasattr(self.usage, "model_dump") else self.usage
        if usage is None:
            usage = {"prompt_tokens": prompt_estimate, "completion_tokens": self.generated}
            usage["total_tokens"] = prompt_estimate + self.generated
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": usage,
        }
        if self.fingerprint:
            data["system_fingerprint"] = self.fingerprint
        completion = ChatCompletion.construct(**data)
        completion.usage_estimated = self.usage is None  # type: ignore[attr-defined]
        return completion


def deltas_for(ctx: Any) -> TextDeltas | None:
    """Where a streamed request of ``ctx``'s action reports its text (None: nowhere)."""
    report = progress_reporter(ctx)
    return TextDeltas(report) if report is not None else None


async def streamed_completion(
    client: Any, request: dict[str, Any], deltas: TextDeltas | None, *, include_usage: bool
) -> Any:
    """``client.chat.completions.create(**request)`` streamed; the assembled completion.

    Text goes to ``deltas`` as it arrives (what is held back is sent when the
    stream ends, or fails). Errors are the client's, raised as they come
    (before the first chunk or in the middle), for the caller to classify. A
    connection that breaks off mid-stream is an ``APIConnectionError``, as it
    is before the first chunk, so it is retried the same way (recent ``openai``
    releases wrap httpx's error themselves; for those that do not, it is done here).
    """
    import httpx
    import openai

    sent = {**request, "stream": True}
    if include_usage:
        sent["stream_options"] = {"include_usage": True}
    stream = await client.chat.completions.create(**sent)
    assembler = StreamAssembler()
    try:
        async for chunk in stream:
            text = assembler.add(chunk)
            if text and deltas is not None:
                deltas.add(text)
    except httpx.TransportError as exc:
        raise openai.APIConnectionError(
            message=f"the stream broke off: {exc}", request=stream.response.request
        ) from exc
    finally:
        if deltas is not None:
            deltas.flush()
        await stream.close()
    return assembler.completion(estimate_prompt_tokens(request))
