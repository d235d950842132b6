"""MCP tools that change at run time: weft lists a server again when it says its tools changed.

The server is a real process (``mcp_changing_server.py``, written with the SDK)
whose ``grow`` and ``shrink`` tools add and remove tools and notify.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from weft import ActionContext, RunState, Workflow, tool
from weft.agents.mcp_action import McpResourceReader, McpTools, from_mcp_async
from weft.protocols import ActionCall, ActionState
from weft.runtime import run_workflow
from weft.runtime.engine.compiler import compile_workflow_async

from .conftest import free_port, stop, wait_for_port

SERVER = Path(__file__).with_name("mcp_changing_server.py")
COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(SERVER))}"


@pytest.fixture(params=["stdio", "http"])
def where(request: pytest.FixtureRequest) -> Iterator[str]:
    """The changing server as a command line, or a process of its own serving HTTP."""
    if request.param == "stdio":
        yield COMMAND
        return
    port = free_port()
    process = subprocess.Popen([sys.executable, str(SERVER), "http", str(port)])
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


async def changing_server(where: str, test: str) -> McpTools:
    """A connection of the test's own (a stdio server gets its own process)."""
    env = None if where.startswith("http") else {"WEFT_TEST": test}
    return await from_mcp_async(where, prefix="ch", env=env, resources=True)


async def call(tools: McpTools, key: str, **arguments: object) -> object:
    result = await tools[key].invoke(ActionCall(action=tools[key].name, arguments=arguments))
    assert result.state is ActionState.OK, result.error
    return result.output


async def test_a_tool_the_server_adds_at_run_time_is_listed_and_callable(where: str) -> None:
    async with await changing_server(where, "adds") as tools:
        assert tools.names() == ["ch.write", "ch.grow", "ch.shrink", "ch.read_resource"]
        since = tools.generation
        assert await call(tools, "grow", name="late") == "added late"
        await tools.updated(since)
        assert tools.names() == ["ch.write", "ch.grow", "ch.shrink", "ch.late", "ch.read_resource"]
        assert tools["late"].spec.description == "The tool late, added at run time."
        assert await call(tools, "late") == "late is here"


async def test_a_tool_the_server_removes_fails_naming_the_tool_and_the_server(where: str) -> None:
    async with await changing_server(where, "removes") as tools:
        since = tools.generation
        await call(tools, "grow", name="brief")
        await tools.updated(since)
        held = tools["brief"]  # as a workflow holds it after compiling
        assert await call(tools, "brief") == "brief is here"

        since = tools.generation
        await call(tools, "shrink", name="brief")
        await tools.updated(since)
        assert "ch.brief" not in tools.names()
        result = await held.invoke(ActionCall(action=held.name, arguments={}))
        assert result.state is ActionState.ERROR
        assert result.error is not None and result.error.type == "McpToolRemoved"
        assert "MCP tool 'brief'" in result.error.message
        assert where in result.error.message  # the server, by its URL or command line
        assert "its tools now: write, grow, shrink" in result.error.message


async def test_tools_kept_across_a_change_are_the_same_actions(where: str) -> None:
    async with await changing_server(where, "keeps") as tools:
        grow = tools["grow"]
        since = tools.generation
        await call(tools, "grow", name="extra")
        await tools.updated(since)
        assert tools["grow"] is grow


async def test_a_subscribed_resource_is_read_again_at_each_update(where: str) -> None:
    async with await changing_server(where, "subscribes") as tools:
        reader = tools["read_resource"]
        assert isinstance(reader, McpResourceReader)
        assert await call(tools, "read_resource", uri="notes://today") == "nothing yet"
        async with reader.subscribe("notes://today") as updates:
            await call(tools, "write", text="first")
            async with asyncio.timeout(30):
                assert await anext(updates) == "first"
            await call(tools, "write", text="second")
            async with asyncio.timeout(30):
                assert await anext(updates) == "second"


async def by_name(ctx: ActionContext, name: str) -> Any:
    """Call the action ``name`` (no arguments) by its name, as a team or an agent does."""
    result = await ctx.invoke(name, {})
    if result.state is not ActionState.OK:
        raise RuntimeError(f"{result.state.value}: {result.error}")
    return result.output


@tool
async def call_by_name(name: str, ctx: ActionContext) -> Any:
    """Call the action ``name`` by its name."""
    return await by_name(ctx, name)


async def test_a_tool_added_while_a_workflow_runs_is_callable_by_name_in_it(where: str) -> None:
    async with await changing_server(where, "runs") as tools:
        entered, go_on = asyncio.Event(), asyncio.Event()

        @tool
        async def held(ctx: ActionContext) -> Any:
            """Wait until the test has grown the server, then call the new tool by name."""
            entered.set()
            await go_on.wait()
            return await by_name(ctx, "ch.later")

        wf = Workflow("grows")
        wf.node("use", held)
        wf.output("used", "${use}")
        running = asyncio.create_task(run_workflow(wf, {}, actions=tools, tracer=False))
        async with asyncio.timeout(30):
            await entered.wait()
        since = tools.generation
        assert await call(tools, "grow", name="later") == "added later"
        await tools.updated(since)
        go_on.set()
        async with asyncio.timeout(30):
            done = await running
        assert done.state is RunState.SUCCEEDED, done.nodes["use"].error
        assert done.outputs == {"used": "later is here"}


async def test_a_tool_added_after_a_yaml_workflow_compiled_is_callable_by_name_in_its_run(
    where: str, tmp_path: Path
) -> None:
    (tmp_path / "grows.yaml").write_text(
        textwrap.dedent(
            f"""
            name: grows
            actions:
              ch: {{mcp: {json.dumps(where)}}}
            nodes:
              use:
                action: call_by_name
                with: {{name: ch.newer}}
            outputs:
              used: "${{use}}"
            """
        )
    )
    compiled = await compile_workflow_async(tmp_path / "grows.yaml", actions=[call_by_name])
    tools = await from_mcp_async(where, cwd=tmp_path)  # the workflow's connection: same server
    try:
        since = tools.generation
        assert await call(tools, "grow", name="newer") == "added newer"
        await tools.updated(since)
        done = await run_workflow(compiled, {}, tracer=False)
    finally:
        await tools.aclose()
    assert done.state is RunState.SUCCEEDED, done.nodes["use"].error
    assert done.outputs == {"used": "newer is here"}
