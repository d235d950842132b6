"""Talking to an OpenAI-compatible chat endpoint: settings, prices, retries, usage, spans.

Everything that calls an LLM in weft (``LLMAgent``, the LLM planner, the
synthesis aggregator) goes through ``ChatModel.session()``, so they all

- resolve settings the same way: explicit value > ``model_defaults()`` in the
  current context (the CLI sets it from ``--model``/``--base-url``) >
  environment (``WEFT_MODEL``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``) >
  built-in default model;
- retry the same errors: rate limits (429), connection errors, timeouts
  (unless ``retry_on_timeout`` is off) and 5xx, by one ``RetryPolicy``
  (``LLM_RETRY`` by default): exponential backoff and full jitter, honouring
  ``Retry-After`` up to ``max_delay``. The ``openai`` client's own retries
  are switched off (``max_retries=0``) so every retry is ours, visible as a
  progress event and in the ``llm`` span;
- count usage the same way: ``llm_calls`` counts answered requests (a 429 is
  not billed and not counted; it shows up in the retry notes instead), tokens
  come from the response, cost from a per-model price table.

``openai`` is imported lazily: importing weft never pays for it.

**Span hook.** If the context passed to a session has a callable
``record_span`` attribute, one span per request is handed to it as a dict::

    {"name": "chat gpt-4o-mini", "kind": "llm", "start": t0, "end": t1,
     "status": "ok" | "error", "attributes": {
      "gen_ai.request.model": ..., "gen_ai.response.model": ...,
      "gen_ai.response.finish_reasons": [...], "llm.base_url": ..., "llm.attempts": n,
      "llm.tool_calls": [names], "llm.streamed": True | None, "llm.usage_estimated": ...,
      "input": [messages sent], "output": {reply},
      "usage": Usage, "error": ErrorInfo | None}}

``input`` is the list of chat messages as sent (system, user, assistant
with its tool calls, tool results) and ``output`` the assistant's reply as
``{"role", "content", "tool_calls": [{"id", "name", "arguments"}]}``. They are
left out (``None``) when content tracing is off: ``WEFT_TRACE_CONTENT=0`` in
the environment, or ``trace_content=False`` on the ``ChatModel`` (and
``LLMAgent``). The trace store redacts and truncates them like any span
value. The runtime turns the dict into a span whose parent is the current
call. Agents must not import the runtime, hence a duck-typed hook rather
than a type.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weft.agents.chat_stream import deltas_for, streamed_completion
from weft.agents.endpoint_profiles import (
    DEFAULT_ENDPOINT,
    ENDPOINT_PROFILES,
    StructuredMode,
    refusal_of,
    shape_structured,
)
from weft.agents.model_requests import blocked_cause, model_http_client
from weft.protocols import ActionFailed, ErrorInfo, ProgressEvent, RetryPolicy, Usage

#: Model used when nothing else names one.
DEFAULT_MODEL = "gpt-4o-mini"


class ModelSettings(BaseModel):
    """Where and how to call a chat model; ``None`` means "resolve from context or env"."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="Model name, e.g. 'gpt-4o-mini'.")
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. 'http://localhost:11434/v1'."
    )
    api_key: str | None = Field(default=None, repr=False, description="API key (never logged).")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, ge=1, description="Max completion tokens.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per request (60).")

    def fill(self, fallback: ModelSettings) -> ModelSettings:
        """These settings, with every unset field taken from ``fallback``."""
        mine = self.model_dump(exclude_none=True)
        return fallback.model_copy(update=mine)


_defaults: ContextVar[ModelSettings | None] = ContextVar("weft_model_defaults", default=None)


@contextmanager
def model_defaults(settings: ModelSettings | None = None, **fields: Any) -> Iterator[ModelSettings]:
    """Defaults for every model call made in this context (tasks started inside inherit them).

    Explicit settings on an agent still win; the environment fills what is left.
    """
    value = (settings or ModelSettings()).model_copy(update=fields)
    current = _defaults.get()
    if current is not None:
        value = value.fill(current)
    token = _defaults.set(value)
    try:
        yield value
    finally:
        _defaults.reset(token)


#: Seconds per model request, for every model the environment configures.
TIMEOUT_ENV = "WEFT_MODEL_TIMEOUT"
#: Most completion tokens per model request, unless an agent sets its own.
MAX_TOKENS_ENV = "WEFT_MAX_TOKENS"


def _env_number(name: str, kind: type[float] | type[int]) -> float | None:
    """A positive number from the environment, or ``None``; a bad value says so."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value <= 0:
        what = "a whole number" if kind is int else "a number of seconds"
        raise ModelCallError("ModelNotConfigured", f"{name}={raw!r} is not {what} above 0")
    return value


def env_settings() -> ModelSettings:
    """The model settings the environment gives; a bad number names its variable."""
    max_tokens = _env_number(MAX_TOKENS_ENV, int)
    return ModelSettings(
        model=os.environ.get("WEFT_MODEL") or None,
        base_url=os.environ.get("OPENAI_BASE_URL") or None,
        api_key=os.environ.get("OPENAI_API_KEY") or None,
        timeout=_env_number(TIMEOUT_ENV, float),
        max_tokens=int(max_tokens) if max_tokens is not None else None,
    )


def resolve_settings(explicit: ModelSettings | None = None) -> ModelSettings:
    """Explicit > ``model_defaults()`` > environment > built-in default model."""
    settings = explicit or ModelSettings()
    context = _defaults.get()
    if context is not None:
        settings = settings.fill(context)
    settings = settings.fill(env_settings())
    return settings.fill(ModelSettings(model=DEFAULT_MODEL, timeout=60.0))


#: Environment variable that turns content tracing off: ``0``, ``false``, ``no`` or ``off``.
TRACE_CONTENT_ENV = "WEFT_TRACE_CONTENT"


def trace_content_default() -> bool:
    """Whether LLM spans keep the messages sent and the reply, unless a model says otherwise.

    On unless ``WEFT_TRACE_CONTENT`` is ``0``/``false``/``no``/``off``: prompts
    and replies are what explains a run, and the trace stays on this machine
    unless an OTLP exporter is configured. Read at each session, so a test or
    an application may switch it at any time.
    """
    value = os.environ.get(TRACE_CONTENT_ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def llm_configured(explicit: ModelSettings | None = None) -> bool:
    """True when a request could be made: an API key, or a base URL (local servers need none)."""
    settings = resolve_settings(explicit)
    return bool(settings.api_key or settings.base_url)


#: How ``ChatModel`` retries transient model errors unless told otherwise.
LLM_RETRY = RetryPolicy(max_attempts=4, initial_delay=0.5, max_delay=20.0)


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_million: float = Field(ge=0, description="USD per 1M prompt tokens.")
    output_per_million: float = Field(ge=0, description="USD per 1M completion tokens.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


#: List prices at the time of writing; pass ``prices=`` to override or extend.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    name: ModelPrice(input_per_million=i, output_per_million=o)
    for name, (i, o) in {
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4o": (2.50, 10.00),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "o4-mini": (1.10, 4.40),
    }.items()
}


def price_of(model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """Exact name first, else the longest listed name that ``model`` extends with ``-...``
    (a dated snapshot such as ``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name + "-")]
    return prices[max(matches, key=len)] if matches else None


class ModelCallError(ActionFailed):
    """A model request failed for good (not retryable, or retries exhausted).

    An ``ActionFailed``: raised out of an action, it fails the call with its
    ``error_type`` (``RateLimitError``, ``ModelNotConfigured``, ...) and
    ``retryable`` advice. ``status`` is the HTTP status, when there was one.
    """

    def __init__(
        self, error_type: str, message: str, *, retryable: bool = False, status: int | None = None
    ) -> None:
        super().__init__(message, retryable=retryable, error_type=error_type)
        self.status = status


@dataclass
class Completion:
    """One answered request: the assistant message and what it cost."""

    message: Any
    finish_reason: str | None
    usage: Usage
    attempts: int
    #: The model the server says answered (may name a snapshot of the one asked for).
    model: str | None = None
    #: The structured-output rung the answer was asked on (``None``: none asked for).
    structured_mode: StructuredMode | None = None
    #: Whether the answer was streamed (``chat_stream``); the message is the same either way.
    streamed: bool = False
    #: The server sent no usage with its stream: the token counts are ``chat_stream``'s estimate.
    usage_estimated: bool = False


@dataclass
class _Classified:
    error_type: str
    message: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None


def _classify(exc: Exception, policy: RetryPolicy) -> _Classified:
    import openai

    name = type(exc).__name__
    blocked = blocked_cause(exc)
    if blocked is not None:
        return _Classified(type(blocked).__name__, str(blocked), False)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after: float | None = None
        header = exc.response.headers.get("retry-after") if exc.response is not None else None
        if header:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        retryable = status in (408, 409, 429) or status >= 500
        if status == 500 and _REQUEST_VALIDATION.search(str(exc.message)):
            # a server that reports its request validation as a 500: asking
            # the same again gets the same answer
            retryable = False
        return _Classified(name, f"HTTP {status}: {exc.message}", retryable, status, retry_after)
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        timed_out = isinstance(exc, openai.APITimeoutError)
        return _Classified(name, str(exc) or name, policy.retry_on_timeout or not timed_out)
    if isinstance(exc, ValueError | _NotACompletion):
        # a body that is not a chat completion (truncated JSON, an HTML error
        # page from a proxy): usually transient, so worth another attempt
        return _Classified("InvalidResponse", f"the response is not a chat completion: {exc}", True)
    return _Classified(name, str(exc) or name, False)


#: How servers built on pydantic (llama-cpp-python, others) word a refused request.
_REQUEST_VALIDATION = re.compile(r"\bvalidation errors?\b", re.I)


class _NotACompletion(Exception):
    """The client parsed the body, but it is not a completion (no ``choices``)."""


def _record_span(ctx: Any, span: dict[str, Any]) -> None:
    hook = getattr(ctx, "record_span", None) if ctx is not None else None
    if callable(hook):
        hook(span)


class ChatModel:
    """A configured chat model; open a ``session()`` to make requests.

    ``trace_content`` says whether its ``llm`` spans keep the messages sent
    and the reply; ``None`` follows ``WEFT_TRACE_CONTENT`` (on by default).
    """

    def __init__(
        self,
        settings: ModelSettings | None = None,
        *,
        retry: RetryPolicy | None = None,
        prices: Mapping[str, ModelPrice] | None = None,
        trace_content: bool | None = None,
    ) -> None:
        self.settings = settings or ModelSettings()
        self.retry = retry or LLM_RETRY
        self.prices = DEFAULT_PRICES if prices is None else prices
        self.trace_content = trace_content

    @asynccontextmanager
    async def session(self, ctx: Any = None) -> AsyncIterator[ChatSession]:
        """A client for the duration of one action call (closed at the end).

        ``ctx`` (an ``ActionContext`` or anything with ``progress``/``record_span``)
        receives retry progress and ``llm`` spans. Raises ``ModelCallError`` when
        no key or base URL is configured.
        """
        settings = resolve_settings(self.settings)
        if not (settings.api_key or settings.base_url):
            raise ModelCallError(
                "ModelNotConfigured",
                "no model configured: set OPENAI_API_KEY (and WEFT_MODEL), or OPENAI_BASE_URL "
                "for an OpenAI-compatible server",
            )
        from openai import AsyncOpenAI

        client = AsyncOpenAI(
            api_key=settings.api_key or "not-needed",
            base_url=settings.base_url,
            max_retries=0,
            timeout=settings.timeout,
            http_client=model_http_client(),
        )
        content = self.trace_content if self.trace_content is not None else trace_content_default()
        try:
            yield ChatSession(self, settings, client, ctx, trace_content=content)
        finally:
            await client.close()


@dataclass
class ChatSession:
    """Requests through one client; ``usage`` and ``progress`` accumulate over the session."""

    model: ChatModel
    settings: ModelSettings
    client: Any
    ctx: Any = None
    usage: Usage = field(default_factory=Usage)
    progress: list[ProgressEvent] = field(default_factory=list)
    #: Whether ``llm`` spans keep the messages sent and the reply.
    trace_content: bool = True

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        stream: bool = False,
    ) -> Completion:
        """One chat completion, retried on transient errors. Raises ``ModelCallError``.

        A ``json_schema`` ``response_format`` is sent on the rung of the
        structured-output ladder this endpoint is known to accept
        (``endpoint_profiles``); a refusal of it, or of
        ``parallel_tool_calls``, steps down and asks again at once, without
        spending a retry. ``parallel_tool_calls`` is sent only when not
        ``None`` and the endpoint has not refused it; ``tool_choice`` only
        with ``tools``. ``stream=True`` streams the answer, its text reported as
        it comes through ``ctx.progress`` (``chat_stream``, ``streaming``); a refused
        ``stream_options`` is dropped the same way as ``parallel_tool_calls``.
        """
        settings = self.settings
        assert settings.model is not None
        profile = ENDPOINT_PROFILES.get(settings.base_url, settings.model)
        mode: StructuredMode | None = (
            profile.structured
            if response_format is not None and response_format.get("type") == "json_schema"
            else None
        )
        send_parallel = parallel_tool_calls is not None and profile.parallel_tool_calls
        deltas = deltas_for(self.ctx) if stream else None
        started = time.time()
        attempt = 0
        retries = 0
        while True:
            attempt += 1
            sent, request = self._request(messages, tools, response_format, mode, send_parallel)
            if tools and tool_choice is not None:
                request["tool_choice"] = tool_choice
            try:
                if streamed := stream and (not tools or profile.stream_with_tools):
                    response = await streamed_completion(
                        self.client, request, deltas, include_usage=profile.stream_options
                    )
                else:
                    response = await self.client.chat.completions.create(**request)
                if not getattr(response, "choices", None):
                    if streamed and tools:  # a stream refused for tools: ask again, whole
                        ENDPOINT_PROFILES.without_streaming_tools(settings.base_url, settings.model)
                        continue
                    raise _NotACompletion(f"{type(response).__name__} without choices")
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = _classify(exc, self.model.retry)
                refused = refusal_of(failure.status, failure.message)
                if refused == "format" and mode is not None:
                    lower = ENDPOINT_PROFILES.step_down(
                        settings.base_url, settings.model, mode, failure.message
                    )
                    if lower is not None:
                        mode = lower
                        continue
                if refused == "parallel" and send_parallel:
                    ENDPOINT_PROFILES.without_parallel_tool_calls(
                        settings.base_url, settings.model, failure.message
                    )
                    send_parallel = False
                    continue
                if refused == "stream_options" and stream and profile.stream_options:
                    ENDPOINT_PROFILES.without_stream_options(
                        settings.base_url, settings.model, failure.message
                    )
                    continue
                retries += 1
                if not failure.retryable or retries >= self.model.retry.max_attempts:
                    self._span(started, attempt, sent, mode, error=failure)
                    raise ModelCallError(
                        failure.error_type,
                        f"{self.endpoint_name}: {failure.message}"
                        + (f" (after {attempt} attempts)" if attempt > 1 else ""),
                        retryable=failure.retryable,
                        status=failure.status,
                    ) from None
                delay = self.model.retry.delay(retries, failure.retry_after)
                self._note_retry(retries, failure, delay)
                await asyncio.sleep(delay)
        usage = self._usage(response, time.time() - started)
        self.usage = self.usage.add(usage)
        choice = response.choices[0]
        completion = Completion(
            choice.message,
            choice.finish_reason,
            usage,
            attempt,
            getattr(response, "model", None),
            structured_mode=mode,
            streamed=streamed,
            usage_estimated=bool(getattr(response, "usage_estimated", False)),
        )
        self._span(started, attempt, sent, mode, completion=completion)
        return completion

    @property
    def endpoint_name(self) -> str:
        """``model at endpoint``: what an error names so the user knows which server refused."""
        return f"{self.settings.model} at {self.settings.base_url or DEFAULT_ENDPOINT}"

    def _request(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
        mode: StructuredMode | None,
        parallel_tool_calls: bool,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``(messages as sent, request keyword arguments)`` for one attempt."""
        settings = self.settings
        sent = messages
        if response_format is not None and mode is not None:
            sent, response_format = shape_structured(messages, response_format, mode)
        request: dict[str, Any] = {"model": settings.model, "messages": sent}
        if tools:
            request["tools"] = tools
            if parallel_tool_calls:
                request["parallel_tool_calls"] = True
        if response_format is not None:
            request["response_format"] = response_format
        if settings.temperature is not None:
            request["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            request["max_tokens"] = settings.max_tokens
        return sent, request

    def _usage(self, response: Any, latency: float) -> Usage:
        counted = getattr(response, "usage", None)
        prompt = int(getattr(counted, "prompt_tokens", 0) or 0)
        completion = int(getattr(counted, "completion_tokens", 0) or 0)
        price = price_of(str(self.settings.model), self.model.prices)
        return Usage(
            llm_calls=1,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=price.cost(prompt, completion) if price else 0.0,
            latency_s=latency,
        )

    def _note_retry(self, attempt: int, failure: _Classified, delay: float) -> None:
        message = f"{self.endpoint_name}: {failure.message}; retry {attempt} in {delay:.2f}s"
        data = {"attempt": attempt, "error_type": failure.error_type, "status": failure.status}
        call = getattr(self.ctx, "call", None)
        self.progress.append(
            ProgressEvent(call_id=getattr(call, "call_id", ""), message=message, data=data)
        )
        report = getattr(self.ctx, "progress", None)
        if callable(report):
            report(message, None, **data)

    def _span(
        self,
        started: float,
        attempts: int,
        messages: list[dict[str, Any]],
        mode: StructuredMode | None,
        *,
        completion: Completion | None = None,
        error: _Classified | None = None,
    ) -> None:
        if self.ctx is None or not callable(getattr(self.ctx, "record_span", None)):
            return
        tool_calls = getattr(completion.message, "tool_calls", None) if completion else None
        reason = completion.finish_reason if completion else None
        answered_by = completion.model if completion else None
        attributes: dict[str, Any] = {
            "gen_ai.request.model": self.settings.model,
            "gen_ai.response.model": answered_by if answered_by != self.settings.model else None,
            "gen_ai.response.finish_reasons": [reason] if reason else None,
            "llm.base_url": self.settings.base_url,
            "llm.attempts": attempts,
            "llm.structured_output": mode,
            "llm.streamed": True if completion and completion.streamed else None,
            "llm.usage_estimated": True if completion and completion.usage_estimated else None,
            "llm.tool_calls": [
                tc.function.name for tc in tool_calls or [] if hasattr(tc, "function")
            ],
            # A copy: the caller goes on appending to its list of messages.
            "input": list(messages) if self.trace_content else None,
            "output": reply_of(completion.message) if completion and self.trace_content else None,
            "usage": completion.usage if completion else Usage(),
            "error": ErrorInfo(
                type=error.error_type, message=error.message, retryable=error.retryable
            )
            if error
            else None,
        }
        _record_span(
            self.ctx,
            {
                "name": f"chat {self.settings.model}",
                "kind": "llm",
                "start": started,
                "end": time.time(),
                "status": "error" if error else "ok",
                "attributes": attributes,
            },
        )


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
