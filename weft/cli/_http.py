"""``--http HOST:PORT`` and ``--token-env VAR`` of ``weft mcp serve`` and ``weft a2a serve``.

Parsed and range-checked here, so a typo is a usage error naming the option
rather than a traceback from ``socket.bind`` once the server starts. The
bearer token is named by an environment variable, never given itself on the
command line, where ``ps`` shows it to every user of the machine.
"""

from __future__ import annotations

import os
from typing import Any

import click

from weft.protocols.bearer import check_token


def token_env_option(func: Any) -> Any:
    """``--token-env VAR``: the variable holding the bearer token an HTTP server requires."""
    return click.option(
        "--token-env",
        "token_env",
        metavar="VAR",
        default=None,
        help="With --http: require 'Authorization: Bearer <token>' on every request, the "
        "token read from the environment variable VAR (never given on the command line).",
    )(func)


def token_from_env(var: str | None, http: bool) -> str | None:
    """The token in ``$var`` (``None`` without ``--token-env``); ``click.UsageError`` naming
    VAR when it is unset or empty, or when there is no ``--http`` server for it to guard."""
    if var is None:
        return None
    if not http:
        raise click.UsageError("--token-env guards an HTTP server: give --http HOST:PORT too")
    value = os.environ.get(var)
    if value is None:
        raise click.UsageError(
            f"--token-env {var}: the environment variable {var} is not set "
            "(it must hold the bearer token clients send)"
        )
    try:
        return check_token(value, f"--token-env {var}: the environment variable {var}")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


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
