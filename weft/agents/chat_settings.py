"""Which model a chat request goes to, and how: ``ModelSettings`` and how they resolve.

Every model call in weft resolves its settings the same way: explicit value >
``model_defaults()`` in the current context (the CLI sets it from
``--model``/``--base-url``) > environment (``WEFT_MODEL``,
``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``WEFT_MODEL_TIMEOUT``,
``WEFT_MAX_TOKENS``) > built-in default model. Whether ``llm`` spans keep
prompts and replies (``WEFT_TRACE_CONTENT``) is read here too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from weft.agents.chat_errors import ModelCallError

#: Model used when nothing else names one.
DEFAULT_MODEL = "gpt-4o-mini"


def endpoint_problem(url: str) -> str | None:
    """What is wrong with an endpoint ``url``, or ``None`` when it is an http(s) URL.

    The ``openai`` client takes any text as its base URL: ``localhost:8765/v1``
    failed only after every retry, as ``Connection error.``, which does not
    say the URL is what is wrong.
    """
    if url.strip().lower().startswith(("http://", "https://")):
        return None
    return f"must be an http(s):// URL such as http://127.0.0.1:8765/v1, not {url!r}"


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

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        problem = endpoint_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(f"base_url {problem}")
        return value

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


def check_env_numbers() -> None:
    """Refuses a bad ``$WEFT_MODEL_TIMEOUT`` or ``$WEFT_MAX_TOKENS`` now (``ModelCallError``
    naming it): the CLI checks before a run starts, instead of every LLM node failing."""
    _env_number(TIMEOUT_ENV, float)
    _env_number(MAX_TOKENS_ENV, int)


def env_settings(*, base_url_needed: bool = True) -> ModelSettings:
    """The model settings the environment gives; a bad number or URL names its variable.

    ``base_url_needed=False`` (the caller has its own endpoint) leaves out an
    ``OPENAI_BASE_URL`` that is no URL instead of failing on it.
    """
    max_tokens = _env_number(MAX_TOKENS_ENV, int)
    base_url = os.environ.get("OPENAI_BASE_URL") or None
    if base_url is not None and (problem := endpoint_problem(base_url)) is not None:
        if base_url_needed:
            raise ModelCallError("ModelNotConfigured", f"OPENAI_BASE_URL {problem}")
        base_url = None
    return ModelSettings(
        model=os.environ.get("WEFT_MODEL") or None,
        base_url=base_url,
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
    settings = settings.fill(env_settings(base_url_needed=settings.base_url is None))
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
