"""The URL an HTTP A2A agent's card gives its clients.

An A2A client reads the card first and sends every request to the URL of
the interface it names (``supportedInterfaces[].url``), not to the address
it fetched the card from. So that URL must be one a client can reach:

- an IPv6 host is written in brackets (``http://[::1]:8800/``); without
  them the URL names no host at all;
- a server bound to every address (``0.0.0.0``, ``::``) has no address of
  its own to name: ``http://0.0.0.0:8800/`` sends a client on another
  machine to itself. Its card names the address each client reached it by:
  the request's ``Host`` header (what the client put in the URL it fetched
  the card from), with the request's scheme. A ``Host`` that is not a plain
  ``host[:port]`` leaves the card as it is. The card only tells the client
  what it already used, so a forged ``Host`` fools no one but its sender.

``CardAsReached`` is the ASGI middleware that remembers the address for the
request; ``as_reached`` is the card modifier (``a2a-sdk``'s
``create_agent_card_routes(card_modifier=...)``) that puts it in the card.
"""

from __future__ import annotations

import contextvars
import re
from typing import Any

__all__ = ["CardAsReached", "as_reached", "http_url", "is_wildcard"]

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})

#: ``host[:port]`` as a Host header may carry it: a name, IPv4, or bracketed IPv6.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")

_reached: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "weft_a2a_reached", default=None
)


def http_url(host: str, port: int) -> str:
    """``http://host:port/``, an IPv6 host in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_wildcard(host: str) -> bool:
    """Whether ``host`` binds every address (``0.0.0.0``, ``::``), so names none of them."""
    return host in _WILDCARDS


class CardAsReached:
    """ASGI middleware: remembers, for the request it passes on, the base URL the
    client reached the server by (its scheme and ``Host`` header), for ``as_reached``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
        base = f"{scope.get('scheme', 'http')}://{host}/" if _HOST.match(host) else None
        token = _reached.set(base)
        try:
            await self.app(scope, receive, send)
        finally:
            _reached.reset(token)


async def as_reached(card: Any) -> Any:
    """``card`` (the SDK's ``AgentCard``) with its interfaces' URL the one the request
    reached the server by (``CardAsReached``); ``card`` itself outside such a request."""
    base = _reached.get()
    if base is None:
        return card
    served = type(card)()
    served.CopyFrom(card)
    for interface in served.supported_interfaces:
        interface.url = base
    return served
