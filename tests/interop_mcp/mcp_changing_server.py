"""An MCP server, written with the SDK, whose tools change while it runs.

Run as ``python mcp_changing_server.py`` (stdio) or ``... http PORT``.
``grow(name)`` adds a tool ``name`` (answering ``"<name> is here"``) and
``shrink(name)`` removes one;
each then tells the clients listening that the tool list changed, as a
server that loads plugins would. ``write(text)`` changes the resource
``notes://today`` and tells the clients subscribed to it.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("weft-changing", log_level="WARNING")
today = {"text": "nothing yet"}


@server.resource("notes://today", description="Today's note.")
def note() -> str:
    return today["text"]


@server.tool(description="Write today's note, and tell its subscribers.", structured_output=False)
async def write(text: str, ctx: Context) -> str:
    today["text"] = text
    await ctx.notify_resource_updated("notes://today")
    return "written"


@server.tool(
    description="Add a tool called NAME, and say the tool list changed.", structured_output=False
)
async def grow(name: str, ctx: Context) -> str:
    def grown() -> str:
        return f"{name} is here"

    server.add_tool(
        grown,
        name=name,
        description=f"The tool {name}, added at run time.",
        structured_output=False,
    )
    await ctx.notify_tools_changed()
    return f"added {name}"


@server.tool(
    description="Remove the tool called NAME, and say the tool list changed.",
    structured_output=False,
)
async def shrink(name: str, ctx: Context) -> str:
    server.remove_tool(name)
    await ctx.notify_tools_changed()
    return f"removed {name}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
