"""``weft agent serve --mcp``: an MCP server's tools on the bus, called by a weft caller."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
from mcp import Client, StdioServerParameters

from weft import Workflow, run_workflow
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.live_registry import LiveRegistry
from weft.testing.processes import stop_process

from .conftest import STDIO_COMMAND

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    registry: LiveRegistry
    broker: str
    namespace: str


@pytest_asyncio.fixture
async def served(mqtt_broker_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """An agent process serving the fixture server's tools, and a caller's live registry."""
    namespace = f"mcp-{uuid.uuid4().hex[:10]}"
    log = (tmp_path / "agent.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weft", "agent", "serve", "--mcp", STDIO_COMMAND,
        "--broker", mqtt_broker_url, "--namespace", namespace, "--heartbeat", "0.5",
        stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT,
    )  # fmt: skip
    log.close()
    try:
        async with (
            MqttBus(mqtt_broker_url, namespace=namespace) as bus,
            LiveRegistry(bus) as registry,
        ):
            await registry.wait_for(["echo", "add"], 60)
            yield Served(registry, mqtt_broker_url, namespace)
    finally:
        await stop_process(proc, grace=30)


async def test_the_tools_cards_carry_their_descriptions(
    served: Served,
) -> None:
    registry = served.registry
    spec = registry.spec("add")
    assert spec is not None and spec.card is not None
    assert spec.card.description == "Add two integers."
    assert "mcp" in spec.card.tags
    assert spec.input_schema["required"] == ["a", "b"]
    assert {c.description for c in registry.capability_cards()} >= {
        "Return the text unchanged.",
        "Add two integers.",
    }


async def test_a_weft_caller_runs_a_workflow_on_the_served_mcp_tools(
    served: Served,
) -> None:
    registry = served.registry
    wf = Workflow("over-the-bus")
    wf.node("sum", "add", with_={"a": 40, "b": 2})
    wf.node("say", "echo", after="sum", with_={"text": "total ${sum.total}"})
    result = await run_workflow(wf, actions=registry.actions(["add", "echo"]), record=False)
    assert result.ok, result.error
    assert result.outputs == {"say": {"result": "total 42"}}


async def test_a_tool_error_reaches_the_remote_caller_as_an_error(
    served: Served,
) -> None:
    registry = served.registry
    wf = Workflow("boom")
    wf.node("boom", "explode", with_={"message": "no disk"})
    result = await run_workflow(wf, actions=registry.actions(["explode"]), record=False)
    assert not result.ok
    error = result.nodes["boom"].error
    assert error is not None and error.type == "McpToolError" and "no disk" in error.message


async def test_weft_mcp_serve_offers_the_brokers_agents_to_an_mcp_client(served: Served) -> None:
    """MCP server -> ``weft agent serve --mcp`` -> broker -> ``weft mcp serve --broker`` -> MCP."""
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "weft", "mcp", "serve", "--broker", served.broker,
              "--namespace", served.namespace],
        cwd=str(ROOT),
        env={"WEFT_HOME": os.environ["WEFT_HOME"]},  # the agent key the caller trusts
    )  # fmt: skip
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"echo", "add", "explode"} <= set(tools)
        assert tools["add"].description == "Add two integers."
        added = await client.call_tool("add", {"a": 1, "b": 2})
        assert added.structured_content == {"total": 3, "terms": 2}
        failed = await client.call_tool("explode", {"message": "far away"})
        assert failed.is_error and "far away" in failed.content[0].text  # type: ignore[union-attr]
