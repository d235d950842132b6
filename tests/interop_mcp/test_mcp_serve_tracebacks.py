"""A failed call of ``weft mcp serve``: the client gets the error, the server keeps the traceback.

What an MCP client (here the SDK's own ``Client``, over stdio and streamable
HTTP) receives when a tool raises: the error's type and the tool's message,
in the text content and in ``_meta["weft/error"]``, and nowhere the traceback
or the server's file paths; the server logs the traceback. ``--send-tracebacks``
sends it too, as before.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from failing_actions import tools
from mcp import Client, StdioServerParameters

from weft.agents.mcp_action import ERROR_META
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop.mcp_server import McpActionServer
from weft.runtime.interop.served_errors import LOGGER
from weft.testing.processes import weft_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVE = ["mcp", "serve", "failing_actions:tools", "--path", str(HERE.parent)]
#: Where the failing tool lives: what a client must not learn.
SOURCE = "failing_actions.py"


async def call_over(transport: str, *flags: str) -> dict[str, Any]:
    """``boom(n=500)`` through ``weft mcp serve FLAGS`` on ``transport``, the result as JSON."""
    if transport == "stdio":
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "weft", *SERVE, *flags], cwd=str(ROOT)
        )
        async with Client(params) as client:
            result = await client.call_tool("boom", {"n": 500})
    else:
        args = (*SERVE, "--http", "127.0.0.1:0", *flags)
        async with (
            weft_process(*args, ready=r"at (http://\S+/mcp)", cwd=ROOT) as served,
            Client(served.ready.group(1)) as client,
        ):
            result = await client.call_tool("boom", {"n": 500})
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_client_gets_the_error_and_message_but_no_traceback(transport: str) -> None:
    result = await call_over(transport)
    assert result["isError"] is True
    assert result["content"] == [
        {"type": "text", "text": "ValueError: boom: 500 is too big for this tool"}
    ]
    error = result["_meta"][ERROR_META]
    assert (error["type"], error["message"]) == ("ValueError", "boom: 500 is too big for this tool")
    assert error["details"] == {}
    assert SOURCE not in json.dumps(result) and "Traceback" not in json.dumps(result)


async def test_send_tracebacks_sends_the_traceback_to_the_client() -> None:
    result = await call_over("http", "--send-tracebacks")
    stack = result["_meta"][ERROR_META]["details"]["traceback"]
    assert stack.startswith("Traceback (most recent call last):")
    assert SOURCE in stack and "in _check" in stack


async def test_the_server_logs_the_traceback_it_did_not_send(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = McpActionServer(ActionTable(tools))
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        failed = await server.call("boom", {"n": 500})
        refused = await server.call("refuse", {"reason": "too late"})
    assert failed.is_error and "traceback" not in failed.meta[ERROR_META]["details"]
    [record] = [r for r in caplog.records if r.name == LOGGER]  # one traceback: boom's
    logged = str(record.msg) + record.getMessage()
    assert "boom: 500 is too big for this tool" in logged
    assert SOURCE in logged and "in _check" in logged
    # an error the tool chose has no traceback: it reaches the client whole
    assert refused.content[0].text == "Refused: refuse: refused: too late"
    assert refused.meta[ERROR_META] == {
        "type": "Refused",
        "message": "refuse: refused: too late",
        "retryable": True,
        "field": None,
        "details": {},
    }
