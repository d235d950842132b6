"""``from_mcp_async``: connecting to an MCP server from async code leaves the event loop free."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

import weft
from weft import Workflow, run_workflow
from weft.agents import McpServerError, from_mcp_async

from .conftest import FIXTURE


async def test_the_loop_runs_other_tasks_while_the_server_starts(tmp_path: Path) -> None:
    """The server answers nothing until a task on the caller's loop opens its gate:
    were the loop blocked while connecting, the gate would stay shut and the start time out."""
    gate = tmp_path / "gate"
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1
            if ticks == 5:
                gate.touch()

    ticker = asyncio.create_task(tick())
    try:
        tools = await from_mcp_async(
            [sys.executable, str(FIXTURE)],
            env={"WEFT_FIXTURE_GATE": str(gate)},
            tools=["echo"],
            connect_timeout=10,
        )
    finally:
        ticker.cancel()
    try:
        assert ticks >= 5 and gate.exists()
        assert tools.names() == ["echo"]
    finally:
        await tools.aclose()


async def test_the_awaited_actions_run_in_a_workflow(http_url: str) -> None:
    tools = await weft.from_mcp_async(http_url, prefix="fx", tools=["add"])
    wf = Workflow("sum")
    wf.node("sum", tools["add"], with_={"a": 1, "b": 2})
    result = await run_workflow(wf, record=False)
    assert result.ok, result.error
    assert result.outputs == {"sum": {"total": 3, "terms": 2}}


async def test_a_command_not_found_is_the_same_error_as_from_mcp() -> None:
    with pytest.raises(McpServerError, match="MCP server command not found: 'no-such-mcp-xyz'"):
        await from_mcp_async("no-such-mcp-xyz --flag")


async def test_a_server_that_never_answers_times_out_with_its_name(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    command = [sys.executable, str(FIXTURE)]
    try:
        with pytest.raises(McpServerError, match=r"did not answer within 0\.5 s"):
            await from_mcp_async(command, env={"WEFT_FIXTURE_GATE": str(gate)}, connect_timeout=0.5)
    finally:
        gate.touch()  # a server process left behind finds its stdin closed, and exits
