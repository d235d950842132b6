"""The listening socket of weft's HTTP servers (``weft mcp serve --http``, ``weft a2a serve``).

Bound before the ASGI server starts, so a caller learns the real port of
``port=0`` and can print the URL when clients can already connect. Its
protocol must say TCP: asyncio turns Nagle's algorithm off only on sockets
whose ``proto`` is ``IPPROTO_TCP`` (``socket.create_server`` makes them with
``proto`` 0), and without that a response uvicorn writes in two parts
(headers, then body) waits for the client's delayed ACK: ~45 ms a call on
Linux, measured with ``bench/hops.py``. Linux also passes the listener's
TCP_NODELAY on to the sockets it accepts.
"""

from __future__ import annotations

import socket

__all__ = ["listening_socket"]


def listening_socket(host: str, port: int, backlog: int = 511) -> socket.socket:
    """A TCP socket listening on ``host:port`` whose accepted sockets have TCP_NODELAY.

    Raises ``OSError`` (address in use, not allowed...) with the socket closed.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
