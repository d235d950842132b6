"""The switch weft's model clients check: may a model request leave this machine?

Tests must never reach a real model. As pydantic-ai does with
``ALLOW_MODEL_REQUESTS``, weft keeps the decision in a switch that its own
code consults, instead of patching another library's internals: every place
in weft that makes an ``openai`` client (``ChatModel.session()``, behind
``LLMAgent``, the LLM planner and the synthesis aggregator, and
``OpenAIEmbedder``) passes ``http_client=model_http_client()`` (or
``sync_model_http_client()``). That is ``openai``'s own public
``DefaultAsyncHttpxClient`` (or ``DefaultHttpxClient``), the client ``openai``
would build for itself (its timeouts and redirect rules, whichever httpx
package that release is built on), with two differences:

- inside a ``block_network_models()`` block it has a request event hook
  (httpx's public way to see every request a client sends, redirects
  included) that refuses any host that is not loopback, raising
  ``ModelRequestBlocked`` before a connection is made. Requests to a local
  ``weft.testing.OpenAIServer`` pass untouched, so tests still drive the
  real client;
- it verifies TLS with one context the process shares
  (``shared_tls_context``), made by the HTTP library ``openai`` uses as that
  library makes its default one. Left to itself, the library loads the
  certificates anew for every client, 20-200 ms of CPU on the event loop,
  and ``ChatModel`` makes a client per action call: forty parallel LLM calls
  of a ``foreach`` waited on each other's loads (measured: forty 1 s calls
  took 5.7-12.3 s; with the shared context, 1.4 s).

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

``openai`` is imported only when a client is made.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from weft.protocols import WeftError

if TYPE_CHECKING:  # pragma: no cover
    import openai

_lock = threading.Lock()
_depth = 0
#: The TLS context clients share, with the certificate settings it was made for.
_tls: tuple[tuple[str | None, str | None], ssl.SSLContext] | None = None


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


def shared_tls_context() -> ssl.SSLContext | bool:
    """The TLS verification weft's model clients share: one context per process.

    Made by the HTTP library ``openai`` is built on (httpx, or the httpx2 of
    newer releases), with its own ``create_ssl_context()``, so the trusted
    certificates are exactly those the ``openai`` client would trust by itself
    (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, the bundle or system store it
    defaults to); made again only when those variables change. An
    ``SSLContext`` may serve many connections and threads at once. ``True``
    (each client makes its own, as before) when that library has no
    ``create_ssl_context``.
    """
    global _tls
    import openai

    wanted = (os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)
    with _lock:
        if _tls is None or _tls[0] != wanted:
            make = _library_of(openai.DefaultAsyncHttpxClient)
            if make is None:
                return True
            _tls = (wanted, make())
        return _tls[1]


def _library_of(client_class: type) -> Any:
    """``create_ssl_context`` of the HTTP library ``client_class`` comes from, if it has one."""
    for base in client_class.__mro__:
        library = sys.modules.get(base.__module__.partition(".")[0])
        make = getattr(library, "create_ssl_context", None)
        if callable(make):
            return make
    return None


def model_http_client() -> openai.DefaultAsyncHttpxClient:
    """The ``http_client`` for an ``openai.AsyncOpenAI``: see the module docstring."""
    import openai

    hooks = {"request": [_refuse_unless_loopback_async]} if network_models_blocked() else {}
    return openai.DefaultAsyncHttpxClient(verify=shared_tls_context(), event_hooks=hooks)


def sync_model_http_client() -> openai.DefaultHttpxClient:
    """The ``http_client`` for an ``openai.OpenAI``: see the module docstring."""
    import openai

    hooks = {"request": [refuse_unless_loopback]} if network_models_blocked() else {}
    return openai.DefaultHttpxClient(verify=shared_tls_context(), event_hooks=hooks)


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
