"""Where an MCP server is (``McpTarget``: a URL or a command line), and the errors of reaching it.

A target is the key of a shared connection (``_mcp_connection``): two
targets equal in URL or command, environment, folder and token share one
server. It turns itself into what the SDK's ``mcp.Client`` takes; an HTTP
target's client sends its bearer token and counts 401 answers.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import WeftError
from weft.protocols.bearer import authorization, check_token

__all__ = ["McpServerError", "McpTarget", "McpUnauthorized"]

#: Variables a stdio server gets from weft's environment beyond the SDK's safe few.
_PASSED_ENV = ("VIRTUAL_ENV", "PYTHONPATH", "WEFT_HOME")


class McpServerError(WeftError):
    """An MCP server could not be started, reached or listed; the message names it."""


class McpUnauthorized(McpServerError):
    """An HTTP MCP server answered 401: it wants a bearer token, or another one."""


@dataclass(frozen=True)
class McpTarget:
    """Where an MCP server is: a streamable-HTTP URL, or a command speaking MCP on stdio."""

    url: str | None = None
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    #: The bearer token sent to a URL (never shown: not in ``repr`` nor ``label``).
    token: str | None = field(default=None, repr=False)

    @classmethod
    def parse(
        cls,
        server: str | Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        token: str | None = None,
    ) -> McpTarget:
        """``http(s)://...`` is a URL; any other string is a command line (shell quoting);
        a list is the command's argv as it is. ``token`` goes to a URL only (a command
        gets its secrets in ``env``): ``McpServerError`` otherwise, or when it cannot be
        a bearer token."""
        if isinstance(server, str):
            text = server.strip()
            if text.startswith(("http://", "https://")):
                if token is not None:
                    try:
                        check_token(token, f"the token for MCP server {text}")
                    except ValueError as exc:
                        raise McpServerError(str(exc)) from None
                return cls(url=text, token=token)
            try:
                argv = shlex.split(text)
            except ValueError as exc:
                raise McpServerError(f"MCP server command {server!r}: {exc}") from None
        else:
            argv = list(server)
        if not argv:
            raise McpServerError("an MCP server needs a command or an http(s):// URL")
        if token is not None:
            raise McpServerError(
                f"MCP server {shlex.join(argv)}: a bearer token is sent to an http(s):// "
                "server; a stdio command gets its secrets in its environment (env=)"
            )
        return cls(
            command=tuple(argv),
            env=tuple(sorted((env or {}).items())),
            cwd=None if cwd is None else os.fspath(cwd),
        )

    @property
    def label(self) -> str:
        """How messages name the server: its URL or its command line."""
        return self.url or shlex.join(self.command)

    def check(self) -> None:
        """Refuse a command that is not there before the SDK tries to spawn it."""
        if self.url is not None:
            return
        program = self.command[0]
        path_var = dict(self.env).get("PATH", os.environ.get("PATH"))
        if os.sep in program:
            base = os.path.join(self.cwd or "", program)
            if not os.path.exists(base):
                raise McpServerError(f"MCP server command not found: {program} (no such file)")
        elif shutil.which(program, path=path_var) is None:
            raise McpServerError(f"MCP server command not found: {program!r} is not on PATH")

    def sdk_server(self, on_401: Callable[[], None] | None = None) -> Any:
        """What ``mcp.Client`` takes: a streamable-HTTP transport, or ``StdioServerParameters``.

        The transport's HTTP client (the SDK's defaults) sends ``token`` and calls
        ``on_401`` when the server answers 401; it is closed with the transport.
        """
        if self.url is not None:
            return _http_transport(self.url, self.token, on_401)
        from mcp import StdioServerParameters

        # The SDK passes only a few safe variables to the server (HOME, PATH...): a
        # Python server started from a virtualenv needs to find it too, and a weft
        # one (`weft mcp serve`) its $WEFT_HOME (keys, trust list). No secrets pass.
        env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
        return StdioServerParameters(
            command=self.command[0],
            args=list(self.command[1:]),
            env=env | dict(self.env),
            cwd=self.cwd,
        )


@contextlib.asynccontextmanager
async def _http_transport(
    url: str, token: str | None, on_401: Callable[[], None] | None
) -> AsyncIterator[Any]:
    """The SDK's streamable-HTTP transport over an HTTP client of ours (see ``sdk_server``)."""
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def seen(response: Any) -> None:
        if response.status_code == 401 and on_401 is not None:
            on_401()

    http = create_mcp_http_client(headers=authorization(token) if token else None)
    http.event_hooks = {"response": [seen]}
    async with http, streamable_http_client(url, http_client=http) as streams:
        yield streams
