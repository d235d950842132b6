"""Test models: what answers a chat-completion request when no real LLM may be called.

``ScriptedModel`` plays a fixed script (FIFO), records every request it got,
and ``assert_complete()`` proves the code under test consumed the script
exactly. ``FunctionModel`` computes each answer from the request, for tests
whose conversation depends on what the agent sends (several agents sharing
one server, answers that echo a prompt, concurrency barriers).

Both are served over HTTP by ``OpenAIServer``, so the code under test runs the
real ``openai`` client; nothing here patches the client.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from weft.testing.steps import Failure, Reply, Step, TokenCounts, error, text


@dataclass
class ModelRequest:
    """One chat-completion request as the server received it."""

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    response_format: dict[str, Any] | None = None
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def system(self) -> str:
        """The first system message's text ('' if none): handy to tell agents apart."""
        for message in self.messages:
            if message.get("role") in ("system", "developer"):
                return _text_of(message)
        return ""

    @property
    def last_message(self) -> dict[str, Any]:
        return self.messages[-1] if self.messages else {}

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text_of(message)
        return ""

    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.tools]

    def tool_results(self) -> list[dict[str, Any]]:
        """The ``tool`` messages of the latest turn (after the last assistant message)."""
        found: list[dict[str, Any]] = []
        for message in reversed(self.messages):
            if message.get("role") == "tool":
                found.append(message)
            elif found:
                break
        return list(reversed(found))


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def estimate_usage(request: ModelRequest, reply: Reply) -> TokenCounts:
    """Deterministic token counts: words in the request's messages and in the reply.

    Not a tokenizer, only a stable function of the conversation, so a test can
    predict the numbers without fixing ``usage`` on every step.
    """
    prompt = sum(len(_text_of(m).split()) + 1 for m in request.messages)
    completion = len((reply.content or "").split())
    completion += sum(len(c.arguments_json().split()) + 1 for c in reply.tool_calls)
    return TokenCounts(prompt_tokens=max(prompt, 1), completion_tokens=max(completion, 1))


@runtime_checkable
class Model(Protocol):
    """Anything that answers a chat-completion request with a step."""

    async def respond(self, request: ModelRequest) -> Step: ...


class ScriptedModel:
    """Answers requests with a fixed list of steps, first in first out.

    A request that arrives when the script is exhausted gets an HTTP 500 whose
    message says so (the agent sees a server error, the test sees it in
    ``unexpected``), and ``assert_complete()`` fails. Thread-safe, because the
    server may run in its own thread while the test appends steps.
    """

    def __init__(self, steps: Iterable[Step] = (), *, name: str = "scripted") -> None:
        self.name = name
        self._steps: deque[Step] = deque(steps)
        self._lock = threading.Lock()
        self.requests: list[ModelRequest] = []
        self.unexpected: list[ModelRequest] = []

    def add(self, *steps: Step) -> ScriptedModel:
        """Append steps to the script; returns self for chaining."""
        with self._lock:
            self._steps.extend(steps)
        return self

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._steps)

    async def respond(self, request: ModelRequest) -> Step:
        with self._lock:
            self.requests.append(request)
            if self._steps:
                return self._steps.popleft()
            self.unexpected.append(request)
        return error(
            500,
            f"{self.name}: script exhausted at request #{len(self.requests)} "
            f"(last message: {_text_of(request.last_message)[:80]!r})",
            type="script_exhausted",
        )

    def assert_complete(self) -> None:
        """Fail unless every step was used and no request came after the script ended."""
        with self._lock:
            left, extra = len(self._steps), len(self.unexpected)
        problems = []
        if left:
            problems.append(f"{left} scripted step(s) were never requested")
        if extra:
            problems.append(f"{extra} request(s) arrived after the script was exhausted")
        if problems:
            raise AssertionError(f"{self.name}: " + "; ".join(problems))


ModelFunction = Callable[[ModelRequest], "Step | str | Awaitable[Step | str]"]


class FunctionModel:
    """Answers each request with ``fn(request)``: a step, or a string (a text reply).

    ``fn`` may be async, so a test can hold a request until something happens
    (e.g. until a parallel branch has started) without sleeping. An exception
    in ``fn`` becomes an HTTP 500 naming it, and is kept in ``errors``.
    """

    def __init__(self, fn: ModelFunction, *, name: str = "function") -> None:
        self.fn = fn
        self.name = name
        self.requests: list[ModelRequest] = []
        self.errors: list[BaseException] = []

    async def respond(self, request: ModelRequest) -> Step:
        self.requests.append(request)
        try:
            answer = self.fn(request)
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception as exc:
            self.errors.append(exc)
            return error(500, f"{self.name}: {type(exc).__name__}: {exc}", type="model_error")
        if isinstance(answer, str):
            return text(answer)
        if isinstance(answer, Reply | Failure) or hasattr(answer, "body"):
            return answer
        raise TypeError(f"{self.name}: function returned {type(answer).__name__}, not a step")


class HangingModel(FunctionModel):
    """Takes every request and never answers: for what cancellation leaves behind (a run
    cancelled with a request in flight). ``asked`` is set once a request has arrived, so a
    test cancels exactly then, without sleeping."""

    def __init__(self, *, name: str = "hanging") -> None:
        self.asked = asyncio.Event()
        super().__init__(self._hang, name=name)

    async def _hang(self, request: ModelRequest) -> str:
        self.asked.set()
        await asyncio.Event().wait()
        raise AssertionError("a hanging model answered")


def reply_json(reply: Reply, request: ModelRequest, index: int) -> dict[str, Any]:
    """The OpenAI ``chat.completion`` object for ``reply``."""
    counts = reply.usage or estimate_usage(request, reply)
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id or f"call_{index}_{n}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for n, call in enumerate(reply.tool_calls)
        ]
    return {
        "id": f"chatcmpl-weft-{index}",
        "object": "chat.completion",
        "created": 0,
        "model": request.model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.reason()}],
        "usage": {
            "prompt_tokens": counts.prompt_tokens,
            "completion_tokens": counts.completion_tokens,
            "total_tokens": counts.prompt_tokens + counts.completion_tokens,
        },
    }


def parse_request(body: bytes, headers: dict[str, str]) -> ModelRequest:
    """A ``ModelRequest`` from a request body; raises ``ValueError`` when it is not one."""
    try:
        data = json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ValueError("request body must be an object with a 'messages' list")
    return ModelRequest(
        model=str(data.get("model", "")),
        messages=data["messages"],
        tools=list(data.get("tools") or []),
        response_format=data.get("response_format"),
        body=data,
        headers=headers,
    )
