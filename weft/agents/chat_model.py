"""Talking to an OpenAI-compatible chat endpoint: the request loop, retries and step-downs.

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

The parts have a module each, and their public names are importable from
here as well: settings (``chat_settings``), errors and what is retried
(``chat_errors``), the request's fields (``chat_request``), usage and prices
(``chat_usage``), spans (``chat_spans``), streaming (``chat_stream``).

**Span hook.** If the context passed to a session has a callable
``record_span`` attribute, one span per request is handed to it as a dict::

    {"name": "chat gpt-4o-mini", "kind": "llm", "start": t0, "end": t1,
     "status": "ok" | "error" | "cancelled", "attributes": {
      "gen_ai.request.model": ..., "gen_ai.response.model": ...,
      "gen_ai.response.finish_reasons": [...], "llm.base_url": ..., "llm.attempts": n,
      "llm.tool_calls": [names], "llm.streamed": True | None, "llm.usage_estimated": ...,
      "llm.tool_choice": sent, "llm.tool_choice_requested": asked (both None unless
      stepped down),
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
import importlib
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from weft.agents.chat_errors import Classified, ModelCallError, classify
from weft.agents.chat_request import build_request, structured_mode, suspects
from weft.agents.chat_settings import (
    DEFAULT_MODEL,
    MAX_TOKENS_ENV,
    TIMEOUT_ENV,
    TRACE_CONTENT_ENV,
    ModelSettings,
    env_settings,
    llm_configured,
    model_defaults,
    resolve_settings,
    trace_content_default,
)
from weft.agents.chat_spans import llm_span, record_span, reply_of, wants_spans
from weft.agents.chat_stream import deltas_for, streamed_completion
from weft.agents.chat_usage import DEFAULT_PRICES, Completion, ModelPrice, price_of, usage_of
from weft.agents.endpoint_profiles import (
    DEFAULT_ENDPOINT,
    ENDPOINT_PROFILES,
    StructuredMode,
    is_forced,
    refusal_of,
)
from weft.agents.model_requests import model_http_client
from weft.protocols import ProgressEvent, RetryPolicy, Usage

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "LLM_RETRY",
    "MAX_TOKENS_ENV",
    "TIMEOUT_ENV",
    "TRACE_CONTENT_ENV",
    "ChatModel",
    "ChatSession",
    "Completion",
    "ModelCallError",
    "ModelPrice",
    "ModelSettings",
    "env_settings",
    "llm_configured",
    "model_defaults",
    "price_of",
    "reply_of",
    "resolve_settings",
    "trace_content_default",
]

#: How ``ChatModel`` retries transient model errors unless told otherwise.
LLM_RETRY = RetryPolicy(max_attempts=4, initial_delay=0.5, max_delay=20.0)


class _NotACompletion(ValueError):
    """The client parsed the body, but it is not a completion (no ``choices``).

    A ``ValueError``, as the client's own parse errors are: ``classify`` judges
    both an ``InvalidResponse``, worth another attempt.
    """


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
        if "openai" not in sys.modules:
            # The first import takes 1-4 s of CPU: on the event loop it would hold every
            # other node, and the timers of node timeouts, for that long.
            await asyncio.to_thread(importlib.import_module, "openai")
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
        spending a retry. ``parallel_tool_calls`` is sent (true or false)
        only when not ``None`` and the endpoint has not refused it; ``tool_choice`` only
        with ``tools``. ``stream=True`` streams the answer, its text reported as
        it comes through ``ctx.progress`` (``chat_stream``, ``streaming``); a refused
        ``stream_options`` is dropped the same way as ``parallel_tool_calls``. A refused
        forced ``tool_choice`` (``"required"``, a named tool) steps down
        (``endpoint_profiles.shape_tool_choice``); the ``llm`` span then has
        ``llm.tool_choice`` (what was sent) beside ``llm.tool_choice_requested``.
        A server that fails with no message gets an error naming what was sent.
        """
        settings = self.settings
        assert settings.model is not None
        profile = ENDPOINT_PROFILES.get(settings.base_url, settings.model)
        mode = structured_mode(profile, response_format)
        send_parallel = parallel_tool_calls if profile.parallel_tool_calls else None
        deltas = deltas_for(self.ctx) if stream else None
        started = time.time()
        attempt = 0
        retries = 0
        streamed = False
        while True:
            attempt += 1
            sent, request = build_request(
                settings,
                messages,
                tools=tools,
                response_format=response_format,
                mode=mode,
                parallel_tool_calls=send_parallel,
                tool_choice=tool_choice,
                profile=profile,
            )
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
                # Cancelled in flight (Ctrl-C, a timeout, the run cancelled): the request
                # was made and took its time, so the trace shows it, ``cancelled``.
                self._span(started, attempt, sent, mode, request, tool_choice, cancelled=True)
                raise
            except Exception as exc:
                failure = classify(exc, self.model.retry, timeout=settings.timeout)
                refused = refusal_of(failure.status, failure.detail, silent=failure.silent)
                forced = request.get("tool_choice")
                if refused == "tool_choice" and forced is not None and is_forced(forced):
                    ENDPOINT_PROFILES.without_tool_choice(
                        settings.base_url, settings.model, forced, failure.text(self.endpoint_name)
                    )
                    continue
                if refused == "format" and mode is not None:
                    lower = ENDPOINT_PROFILES.step_down(
                        settings.base_url, settings.model, mode, failure.message
                    )
                    if lower is not None:
                        mode = lower
                        continue
                if refused == "parallel" and send_parallel is not None:
                    ENDPOINT_PROFILES.without_parallel_tool_calls(
                        settings.base_url, settings.model, failure.message
                    )
                    send_parallel = None
                    continue
                if refused == "stream_options" and stream and profile.stream_options:
                    ENDPOINT_PROFILES.without_stream_options(
                        settings.base_url, settings.model, failure.message
                    )
                    continue
                retries += 1
                if not failure.retryable or retries >= self.model.retry.max_attempts:
                    self._span(started, attempt, sent, mode, request, tool_choice, error=failure)
                    said = failure.text(self.endpoint_name)
                    if failure.silent and (fields := suspects(request, streamed=streamed)):
                        said += f"; the request sent {fields}: one may be what it cannot handle"
                    raise ModelCallError(
                        failure.error_type,
                        said + (f" (after {attempt} attempts)" if attempt > 1 else ""),
                        retryable=failure.retryable,
                        status=failure.status,
                    ) from None
                delay = self.model.retry.delay(retries, failure.retry_after)
                self._note_retry(retries, failure, delay)
                try:
                    await asyncio.sleep(delay)
                except asyncio.CancelledError:  # between attempts: those made are traced
                    self._span(started, attempt, sent, mode, request, tool_choice, cancelled=True)
                    raise
        usage = usage_of(response, settings.model, self.model.prices, time.time() - started)
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
        self._span(started, attempt, sent, mode, request, tool_choice, completion=completion)
        return completion

    @property
    def endpoint_name(self) -> str:
        """``model at endpoint``: what an error names so the user knows which server refused."""
        return f"{self.settings.model} at {self.settings.base_url or DEFAULT_ENDPOINT}"

    def _note_retry(self, attempt: int, failure: Classified, delay: float) -> None:
        message = f"{failure.text(self.endpoint_name)}; retry {attempt} in {delay:.2f}s"
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
        request: dict[str, Any],
        asked: str | dict[str, Any] | None,
        *,
        completion: Completion | None = None,
        error: Classified | None = None,
        cancelled: bool = False,
    ) -> None:
        if not wants_spans(self.ctx):
            return
        sent = request.get("tool_choice")
        span = llm_span(
            self.settings,
            started,
            attempts,
            messages,
            mode,
            trace_content=self.trace_content,
            completion=completion,
            error=error,
            cancelled=cancelled,
            tool_choice=(sent, asked) if sent != asked and "tools" in request else None,
        )
        record_span(self.ctx, span)
