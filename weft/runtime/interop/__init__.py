"""Interop: other agent protocols (A2A, MCP) in and out of weft.

A2A: ``a2a_validate`` checks agent cards with ``a2a-sdk``'s own types;
``a2a_server`` serves weft actions as an A2A agent over HTTP (JSON-RPC),
with push notifications (``a2a_push``; ``a2a_push_policy`` says which
webhooks it may POST to);
``a2a_mqtt`` serves them over A2A's MQTT binding (docs/a2a-mqtt.md). The
other direction, an A2A agent as a weft action, is ``weft.agents.A2aAction``
(HTTP) and ``weft.agents.A2aMqttAction`` (MQTT): taking a foreign agent in
needs no bus, so it lives in ``agents``, below the runtime.
The SDKs are optional extras, imported only when used.

MCP: ``mcp_server`` serves weft actions (local ones, or every agent alive on
a broker) as an MCP server over stdio or streamable HTTP (``weft mcp
serve``). The other direction, an MCP server's tools as weft actions, is
``weft.agents.from_mcp``.

Every call these servers serve, given a tracer (the CLI gives the default
trace store), is a run in it, as a ``weft run`` is: ``served_trace``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "A2aCardInvalid": "weft.runtime.interop.a2a_validate",
    "A2aHttpServer": "weft.runtime.interop.a2a_server",
    "A2aMqttAgent": "weft.runtime.interop.a2a_mqtt",
    "A2aPush": "weft.runtime.interop.a2a_push",
    "PushPolicy": "weft.runtime.interop.a2a_push_policy",
    "a2a_http_app": "weft.runtime.interop.a2a_server",
    "serve_a2a_mqtt": "weft.runtime.interop.a2a_mqtt",
    "McpActionServer": "weft.runtime.interop.mcp_server",
    "McpServeError": "weft.runtime.interop.mcp_server",
    "validate_agent_card": "weft.runtime.interop.a2a_validate",
}

__all__ = [
    "A2aCardInvalid",
    "A2aHttpServer",
    "A2aMqttAgent",
    "A2aPush",
    "McpActionServer",
    "McpServeError",
    "PushPolicy",
    "a2a_http_app",
    "serve_a2a_mqtt",
    "validate_agent_card",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.interop.a2a_mqtt import A2aMqttAgent, serve_a2a_mqtt
    from weft.runtime.interop.a2a_push import A2aPush
    from weft.runtime.interop.a2a_push_policy import PushPolicy
    from weft.runtime.interop.a2a_server import A2aHttpServer, a2a_http_app
    from weft.runtime.interop.a2a_validate import A2aCardInvalid, validate_agent_card
    from weft.runtime.interop.mcp_server import McpActionServer, McpServeError
