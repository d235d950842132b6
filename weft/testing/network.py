"""The switch that keeps tests off the internet: model requests may only go to loopback.

``block_network_models()`` wraps the ``openai`` client's request builder (the
one place every request of every resource, sync or async, passes through) so
that a request to any host other than ``localhost``, ``127.0.0.0/8`` or
``::1`` raises ``ModelRequestBlocked`` before a socket is opened. Requests to
a local ``OpenAIServer`` pass untouched, so tests still drive the real client.

The patch is process-wide (it also covers a server or client running in
another thread) and reference-counted, so nested and concurrent uses are safe.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_depth = 0
_original: Any = None


class ModelRequestBlocked(RuntimeError):
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


def _guard(original: Any) -> Any:
    def build_request(self: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        request = original(self, options, *args, **kwargs)
        host = str(request.url.host)
        if not is_loopback(host):
            raise ModelRequestBlocked(
                f"a model request to {request.url} was blocked: tests may only call models "
                "on loopback (start weft.testing.OpenAIServer and pass its base_url)"
            )
        return request

    build_request.__wrapped__ = original  # type: ignore[attr-defined]
    return build_request


@contextmanager
def block_network_models() -> Iterator[None]:
    """In this block, an ``openai`` request to a non-loopback host raises ``ModelRequestBlocked``.

    A no-op when ``openai`` is not installed (nothing could make such a request).
    """
    global _depth, _original
    try:
        from openai._base_client import BaseClient
    except ImportError:  # pragma: no cover - openai is an optional dependency
        yield
        return
    with _lock:
        if _depth == 0:
            _original = BaseClient._build_request
            BaseClient._build_request = _guard(_original)  # type: ignore[method-assign]
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                BaseClient._build_request = _original  # type: ignore[method-assign]
                _original = None


def network_models_blocked() -> bool:
    """True while at least one ``block_network_models()`` block is active."""
    return _depth > 0
