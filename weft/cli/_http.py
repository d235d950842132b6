"""``--http HOST:PORT``: the listening address of ``weft mcp serve`` and ``weft a2a serve``.

Parsed and range-checked here, so a typo is a usage error naming the option
rather than a traceback from ``socket.bind`` once the server starts.
"""

from __future__ import annotations

import click


def host_port(value: str, option: str = "--http") -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; an empty host is 127.0.0.1) as a pair.

    Raises ``click.BadParameter`` when it is not of that form or the port is
    outside 0..65535 (0: any free port).
    """
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(
            f"{value!r} is not HOST:PORT, e.g. 127.0.0.1:8765", param_hint=option
        )
    if int(port) > 65535:
        raise click.BadParameter(
            f"{value!r}: port {int(port)} is outside 0..65535", param_hint=option
        )
    return host.strip("[]") or "127.0.0.1", int(port)
