"""A small MCP server written with the SDK's own server API, for weft's MCP tests and bench.

Run as ``python mcp_server_fixture.py stdio`` or ``python mcp_server_fixture.py http PORT``.
Its tools cover what weft maps: plain text results (``echo``), structured
results with an output schema (``add``), a tool that raises (``explode``:
an ``isError`` result), structured and text content (``lines``), text content
only (``words``: one block per word), progress (``count``) and the server's
process id (``pid``). Its resources: a text note (``notes://readme``), a
binary one (``notes://logo``) and a template (``notes://{name}``); its
prompts: ``review`` (two messages, one argument optional) and ``greet``.

With ``WEFT_FIXTURE_GATE=PATH`` in its environment the server does not
answer anything (``initialize`` included) until that file exists: a server
slow to start, whose start the test itself decides.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import AssistantMessage, Message, UserMessage
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


@server.resource("notes://readme", description="How to use the notes.", mime_type="text/markdown")
def readme() -> str:
    return "# Notes\nWrite them down."


@server.resource("notes://logo", description="The logo.", mime_type="image/png")
def logo() -> bytes:
    return b"\x89PNG"


@server.resource("notes://{name}", description="The note called NAME.")
def note(name: str) -> str:
    return f"note {name}"


@server.prompt(description="Ask for a review of a piece of code.")
def review(code: str, focus: str = "bugs") -> list[Message]:
    return [
        UserMessage(f"Review this code for {focus}:\n{code}"),
        AssistantMessage("I will look at it."),
    ]


@server.prompt(title="Greeting")
def greet(name: str) -> str:
    return f"Say hello to {name}."


def wait_for_gate() -> None:
    """Until the file ``WEFT_FIXTURE_GATE`` names exists (the test creates it)."""
    gate = os.environ.get("WEFT_FIXTURE_GATE")
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    wait_for_gate()
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
