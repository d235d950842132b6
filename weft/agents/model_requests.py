"""The switch weft's model clients check: may a model request leave this machine?

Tests must never reach a real model. As pydantic-ai does with
``ALLOW_MODEL_REQUESTS``, weft keeps the decision in a switch that its own
code consults, instead of patching another library's internals: every place
in weft that makes an ``openai`` client (``ChatModel.session()``, behind
``LLMAgent``, the LLM planner and the synthesis aggregator, and
``OpenAIEmbedder``) passes ``http_client=model_http_client()`` (or
``sync_model_http_client()``). Outside a ``block_network_models()`` block
that is ``None`` and the ``openai`` client builds its own, exactly as without
weft. Inside one, it is ``openai``'s own public ``DefaultAsyncHttpxClient``
(or ``DefaultHttpxClient``) with a request event hook that refuses any host
that is not loopback, raising ``ModelRequestBlocked`` before a connection is
made. Event hooks are httpx's public way to see every request a client sends,
redirects included; using ``openai``'s client class keeps its timeouts and
redirect rules, and whichever httpx package that ``openai`` release is built
on. Requests to a local ``weft.testing.OpenAIServer`` pass untouched, so
tests still drive the real client.

What a caller must know:

- the switch is read when a client is *made*: ``ChatModel`` makes one per
  action call, ``OpenAIEmbedder`` on its first request;
- ``ModelRequestBlocked`` leaves the ``openai`` call as it is in recent
  releases; older ones wrap it in an ``APIConnectionError`` whose cause it
  is. ``blocked_cause(exc)`` finds it either way, so weft reports the block
  itself, never a vague connection error;
- the switch is process-wide (it covers a client used in another thread) and
  reference-counted, so nested and concurrent blocks are safe;
- a client made with the ``openai`` package directly, not through weft, is
  not covered: give it ``http_client=model_http_client()`` too.

``openai`` is imported only when a guarded client is made.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from weft.protocols import WeftError

if TYPE_CHECKING:  # pragma: no cover
    import openai

_lock = threading.Lock()
_depth = 0


class ModelRequestBlocked(WeftError, RuntimeError):
    """A model request to a non-loopback host was made while requests are blocked."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (IPv4 127/8, IPv6 ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def block_network_models() -> Iterator[None]:
    """In this block, a model request weft makes to a non-loopback host raises
    ``ModelRequestBlocked``."""
    global _depth
    with _lock:
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1


def network_models_blocked() -> bool:
    """True while at least one ``block_network_models()`` block is active."""
    return _depth > 0


def refuse_unless_loopback(request: Any) -> None:
    """Raise ``ModelRequestBlocked`` unless an httpx ``request`` goes to a loopback host."""
    if not is_loopback(str(request.url.host)):
        raise ModelRequestBlocked(
            f"a model request to {request.url} was blocked: tests may only call models "
            "on loopback (start weft.testing.OpenAIServer and pass its base_url)"
        )


async def _refuse_unless_loopback_async(request: Any) -> None:
    refuse_unless_loopback(request)


def model_http_client() -> openai.DefaultAsyncHttpxClient | None:
    """The ``http_client`` for an ``openai.AsyncOpenAI``: ``None`` unless requests are blocked."""
    if not network_models_blocked():
        return None
    import openai

    return openai.DefaultAsyncHttpxClient(event_hooks={"request": [_refuse_unless_loopback_async]})


def sync_model_http_client() -> openai.DefaultHttpxClient | None:
    """The ``http_client`` for an ``openai.OpenAI``: ``None`` unless requests are blocked."""
    if not network_models_blocked():
        return None
    import openai

    return openai.DefaultHttpxClient(event_hooks={"request": [refuse_unless_loopback]})


def blocked_cause(exc: BaseException) -> ModelRequestBlocked | None:
    """The ``ModelRequestBlocked`` behind ``exc`` (``openai`` wraps it), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ModelRequestBlocked):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
