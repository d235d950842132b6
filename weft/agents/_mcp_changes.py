"""Hearing an MCP server say that its lists changed, in either era of the protocol.

Why: a server may add or remove tools, resources or prompts while weft runs
(a plugin loaded, an agent started elsewhere); weft lists them again so a
new tool can be called and a removed one fails clearly, without restarting
the workflow (a run's action table follows the listing, ``McpTools``). The
two eras of the protocol say "changed" differently:

- 2026-07-28: change notifications ride only a ``subscriptions/listen``
  stream the client opens, and a server that serves one declares
  ``listChanged`` on what it lists; ``listen_for_changes`` keeps one open
  for the life of the connection, asking for exactly what was declared;
- earlier revisions (the ``initialize`` handshake): the server sends
  ``notifications/tools/list_changed`` (and the resources and prompts ones)
  unasked; they reach the client's message handler (``message_handler``).

Either way ``on_change(kind)`` runs on the MCP loop, must not block, and may
be called twice for one change (the SDK also hands a listen stream's frames
to the message handler): the connection coalesces.

A resource is followed the same two ways (``follow_resource``): a listen
stream naming its URI, or ``resources/subscribe``; either way its
``notifications/resources/updated`` reach the message handler, which calls
the ``ResourceWatchers`` of that URI.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import warnings
from collections.abc import Callable
from typing import Any

from weft.agents._mcp_target import McpServerError

__all__ = [
    "OnChange",
    "ResourceWatchers",
    "follow_resource",
    "listen_for_changes",
    "message_handler",
]

log = logging.getLogger("weft.mcp")

#: ``on_change(kind)``: ``kind`` is ``tools``, ``resources`` or ``prompts``.
OnChange = Callable[[str], None]

_KINDS = {
    "notifications/tools/list_changed": "tools",
    "notifications/resources/list_changed": "resources",
    "notifications/prompts/list_changed": "prompts",
}

#: Re-listens after a listen stream dropped, before weft stops following the server.
_RELISTENS = 100


class ResourceWatchers:
    """Who waits for ``notifications/resources/updated`` of which URI (on the MCP loop)."""

    def __init__(self) -> None:
        self._by_uri: dict[str, list[Callable[[], None]]] = {}

    def add(self, uri: str, updated: Callable[[], None]) -> Callable[[], None]:
        """Call ``updated()`` at each update of ``uri``; returns the removal."""
        self._by_uri.setdefault(uri, []).append(updated)

        def remove() -> None:
            watchers = self._by_uri.get(uri, [])
            with contextlib.suppress(ValueError):
                watchers.remove(updated)
            if not watchers:
                self._by_uri.pop(uri, None)

        return remove

    def updated(self, uri: str) -> None:
        for watcher in list(self._by_uri.get(uri, ())):
            watcher()


def message_handler(on_change: OnChange, watchers: ResourceWatchers) -> Any:
    """The ``message_handler`` for ``mcp.Client``: list-changed notifications call
    ``on_change``, a resource's updates its ``watchers``."""

    async def handle(message: Any) -> None:
        method = getattr(message, "method", "")
        kind = _KINDS.get(method)
        if kind is not None:
            on_change(kind)
        elif method == "notifications/resources/updated":
            watchers.updated(str(message.params.uri))

    return handle


async def follow_resource(
    client: Any,
    label: str,
    watchers: ResourceWatchers,
    uri: str,
    updated: Callable[[], None],
    ready: concurrent.futures.Future[None],
) -> None:
    """Follow ``uri``'s updates until cancelled; ``ready`` is set once the server knows.

    ``McpServerError`` (also in ``ready``) when the server does not declare
    ``resources.subscribe``. Returns when the server ends the stream.
    """
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    offered = client.server_capabilities.resources
    if offered is None or not offered.subscribe:
        raise McpServerError(f"MCP server {label} offers no resource subscriptions")
    remove = watchers.add(uri, updated)
    try:
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            async with client.listen(resource_subscriptions=[uri]) as subscription:
                ready.set_result(None)
                async for _event in subscription:  # delivered to the watchers by the handler
                    pass
            return
        with warnings.catch_warnings():  # deprecated at 2026-07-28, and the way before it
            warnings.simplefilter("ignore")
            await client.subscribe_resource(uri)
            ready.set_result(None)
            try:
                await asyncio.Event().wait()
            finally:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await client.unsubscribe_resource(uri)
    finally:
        remove()


def _kind(event: Any) -> str:
    from mcp.client.subscriptions import PromptsListChanged, ToolsListChanged

    if isinstance(event, ToolsListChanged):
        return "tools"
    return "prompts" if isinstance(event, PromptsListChanged) else "resources"


async def listen_for_changes(client: Any, label: str, on_change: OnChange) -> None:
    """Keep a ``subscriptions/listen`` stream open on ``client`` until cancelled.

    Returns at once on a handshake-era connection (its server notifies
    unasked) or when the server declares no ``listChanged``; returns when the
    server closes the stream on purpose. A dropped stream is opened again and
    everything is listed again (the spec's "re-listen and refetch": no replay).
    """
    from mcp.client.subscriptions import SubscriptionLost
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return
    caps = client.server_capabilities
    wanted = {
        "tools_list_changed": bool(caps.tools and caps.tools.list_changed),
        "resources_list_changed": bool(caps.resources and caps.resources.list_changed),
        "prompts_list_changed": bool(caps.prompts and caps.prompts.list_changed),
    }
    if not any(wanted.values()):
        return
    for attempt in range(_RELISTENS):
        try:
            async with client.listen(**wanted) as subscription:
                if attempt:
                    for kind in ("tools", "resources", "prompts"):
                        on_change(kind)
                async for event in subscription:
                    on_change(_kind(event))
            return
        except SubscriptionLost as exc:
            log.debug("MCP server %s: change stream lost (%s), listening again", label, exc)
        except Exception as exc:  # the connection ended: its holder notices and reports
            log.debug("MCP server %s: no change notifications: %s", label, exc)
            return
