"""A bearer-token gate in front of weft's HTTP servers (A2A's and MCP's ASGI apps).

A pure ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``: the
servers stream (A2A's ``message/stream``, MCP's SSE answers), and a pure
middleware passes a streamed response through untouched. Every HTTP request
but the ``public`` paths (A2A's agent card, which a client reads first to
learn that a token is wanted) must carry ``Authorization: Bearer <token>``;
any other is answered 401 with ``WWW-Authenticate: Bearer`` and a JSON-RPC
error body (both servers speak JSON-RPC, and the MCP SDK's client shows
such a body's message to its user). The token is compared with
``hmac.compare_digest``, so the time an answer takes says nothing about it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from weft.protocols.bearer import bearer_matches, check_token

__all__ = ["UNAUTHORIZED_BODY", "BearerAuth"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The body of a refused request: a JSON-RPC error (id null: the request was not read).
UNAUTHORIZED_BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32000,
            "message": "Unauthorized: this server wants 'Authorization: Bearer <token>'",
        },
    }
).encode()
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"www-authenticate", b'Bearer realm="weft"'),
    (b"content-length", str(len(UNAUTHORIZED_BODY)).encode()),
]


class BearerAuth:
    """``app`` behind a bearer token; requests to ``public`` paths pass without one."""

    def __init__(self, app: App, token: str, *, public: Collection[str] = ()) -> None:
        self.app = app
        self._token = check_token(token, "the server's token").encode()
        self._public = frozenset(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan" or (kind == "http" and scope["path"] in self._public):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), None)
        if bearer_matches(header, self._token):
            await self.app(scope, receive, send)
            return
        if kind == "websocket":  # none is served; refuse it the way a websocket is refused
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 401, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": UNAUTHORIZED_BODY})
