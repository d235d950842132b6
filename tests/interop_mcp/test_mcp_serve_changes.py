"""``weft mcp serve``: a server whose tools change tells its clients, and weft's client follows.

Agents that start and stop on a broker change what ``weft mcp serve --broker``
offers; the server declares ``listChanged`` and notifies, and weft's own MCP
client (``from_mcp``) lists it again: a new agent's tool is callable, and a
gone agent's tool fails naming the tool and the server.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import uuid
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from weft.agents.mcp_action import McpResourceReader, McpServerError, from_mcp_async
from weft.protocols import ActionCall, ActionState
from weft.testing.processes import stop_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


async def test_a_server_of_fixed_actions_declares_no_list_changes() -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "weft", "mcp", "serve", "weft_actions:tools", "--path", str(HERE)],
        cwd=str(ROOT),
    )
    async with Client(server) as client:
        tools = client.server_capabilities.tools
        assert tools is not None and not tools.list_changed


async def test_subscribing_to_a_resource_of_a_server_without_subscriptions_says_so() -> None:
    serve = [
        sys.executable,
        "-m",
        "weft",
        "mcp",
        "serve",
        "weft_actions:shout",
        "--path",
        str(HERE),
    ]
    tools = await from_mcp_async(shlex.join(serve), resources=True, cwd=ROOT)
    async with tools:
        reader = tools["read_resource"]
        assert isinstance(reader, McpResourceReader)
        with pytest.raises(McpServerError, match="offers no resource subscriptions"):
            async with reader.subscribe("weft://cards/shout"):
                pass


async def start_agent(broker: str, namespace: str, log: Path) -> asyncio.subprocess.Process:
    """``weft agent serve weft_actions:shout`` on the broker's namespace."""
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "weft", "agent", "serve", "weft_actions:shout",
            "--path", str(HERE), "--broker", broker, "--namespace", namespace,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, cwd=ROOT,
        )  # fmt: skip


async def test_a_handshake_era_client_is_told_without_asking(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    namespace = f"mcpch-{uuid.uuid4().hex[:10]}"
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "weft", "mcp", "serve", "--broker", mqtt_broker_url, "--namespace", namespace],
        cwd=str(ROOT),
        env={"WEFT_HOME": os.environ["WEFT_HOME"]},
    )
    changed = asyncio.Event()

    async def seen(message: object) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changed.set()

    async with Client(server, mode="legacy", message_handler=seen) as client:
        tools = client.server_capabilities.tools
        assert tools is not None and tools.list_changed
        assert (await client.list_tools()).tools == []
        agent = await start_agent(mqtt_broker_url, namespace, tmp_path / "agent.log")
        try:
            async with asyncio.timeout(60):
                await changed.wait()
            names = [t.name for t in (await client.list_tools(cache_mode="refresh")).tools]
            assert names == ["shout"]
        finally:
            await stop_process(agent, grace=30)


async def test_agents_that_come_and_go_change_the_tools_weft_calls(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    namespace = f"mcpch-{uuid.uuid4().hex[:10]}"
    serve = [sys.executable, "-m", "weft", "mcp", "serve", "--broker", mqtt_broker_url,
             "--namespace", namespace]  # fmt: skip
    async with await from_mcp_async(shlex.join(serve), prefix="bus", cwd=ROOT) as tools:
        assert tools.names() == []
        since = tools.generation
        agent = await start_agent(mqtt_broker_url, namespace, tmp_path / "agent.log")
        try:
            while "bus.shout" not in tools.names():
                await tools.updated(since, timeout=60)
                since = tools.generation
            shout = tools["shout"]
            result = await shout.invoke(ActionCall(action=shout.name, arguments={"text": "hi"}))
            assert result.state is ActionState.OK, result.error
            assert result.output == {"result": "HI"}
        finally:
            await stop_process(agent, grace=30)
        while "bus.shout" in tools.names():
            await tools.updated(since, timeout=60)
            since = tools.generation
        result = await shout.invoke(ActionCall(action=shout.name, arguments={"text": "hi"}))
        assert result.error is not None and result.error.type == "McpToolRemoved"
        assert "MCP tool 'shout'" in result.error.message
        assert "weft mcp serve --broker" in result.error.message
