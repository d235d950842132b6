"""A small MCP server written with the SDK's own server API, for weft's MCP tests and bench.

Run as ``python mcp_server_fixture.py stdio`` or ``python mcp_server_fixture.py http PORT``.
Its tools cover what weft maps: plain text results (``echo``), structured
results with an output schema (``add``), a tool that raises (``explode``:
an ``isError`` result), structured and text content (``lines``), text content
only (``words``: one block per word), progress (``count``) and the server's
process id (``pid``).
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

server = MCPServer("weft-fixture", instructions="Tools for weft's MCP tests.", log_level="WARNING")


class Sum(BaseModel):
    total: int
    terms: int


@server.tool(description="Return the text unchanged.")
def echo(text: str) -> str:
    return text


@server.tool(description="Add two integers.")
def add(a: int, b: int) -> Sum:
    return Sum(total=a + b, terms=2)


@server.tool(description="Always fails with the message given.")
def explode(message: str) -> str:
    raise ToolError(message)


@server.tool(description="Split a text into its lines.")
def lines(text: str) -> list[str]:
    return text.splitlines()


@server.tool(description="The words of a text, as text content only.", structured_output=False)
def words(text: str) -> list[str]:
    return text.split()


@server.tool(description="Count to n, reporting progress at each step.")
async def count(n: int, ctx: Context) -> int:
    for i in range(1, n + 1):
        await ctx.report_progress(i, n, f"step {i}")
    return n


@server.tool(description="The process id of this server, to tell one server process from another.")
def pid() -> int:
    return os.getpid()


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
