"""``weft mcp serve``: a served action's progress reaches the MCP client, and its secrets do not.

A client that asks for progress (a ``progressToken``: the SDK's
``progress_callback``) gets one ``notifications/progress`` per ``ctx.progress``
report, in order, before the result: ``progress`` the report's number (MCP
wants it to increase), ``progress / total`` the report's fraction, the message
its text. Registered secrets are masked in what goes back, as an agent host
masks what it sends over the bus. The server runs in-process (the SDK's
``Client`` given the ``Server``), on the stateless 2026-07-28 revision and on
the handshake; one test goes through a real ``weft mcp serve --http`` process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from weft import ActionContext, secret, tool
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop import McpActionServer
from weft.testing.processes import weft_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

KEY = secret("mcp-progress-test-key-8731")


@tool
async def steps(n: int, ctx: ActionContext) -> str:
    """Reports n steps (async), the last without a fraction."""
    for i in range(1, n):
        ctx.progress(f"step {i}", i / n)
        await asyncio.sleep(0)
    ctx.progress("almost done")
    return "done"


@tool
def threaded(ctx: ActionContext) -> str:
    """A plain ``def`` (run in a worker thread) that reports a fraction that goes back."""
    ctx.progress("half", 0.5)
    ctx.progress("again", 0.25)
    return "ok"


@tool
def echo_key(ctx: ActionContext) -> str:
    """Says the module's secret key in a progress report and in its output."""
    ctx.progress(f"using {KEY}")
    return f"the key is {KEY}"


@tool
def fail_with_key() -> str:
    """Fails with an error that holds the secret key."""
    raise ValueError(f"login refused for {KEY}")


def served() -> Any:
    return McpActionServer(ActionTable([steps, threaded, echo_key, fail_with_key])).server()


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """The client's revision: ``auto`` reaches 2026-07-28; ``legacy`` the handshake."""
    return str(request.param)


Report = tuple[float, float | None, str | None]


def recorder(into: list[Report]) -> Any:
    async def progress(progress: float, total: float | None, message: str | None) -> None:
        into.append((progress, total, message))

    return progress


async def test_each_report_is_a_progress_notification_before_the_result(mode: str) -> None:
    reports: list[Report] = []
    async with Client(served(), mode=mode) as client:
        result = await client.call_tool("steps", {"n": 4}, progress_callback=recorder(reports))
    assert not result.is_error
    assert [(p, m) for p, _, m in reports] == [
        (1, "step 1"),
        (2, "step 2"),
        (3, "step 3"),
        (4, "almost done"),
    ]
    fractions = [None if t is None else p / t for p, t, _ in reports]
    assert fractions == pytest.approx([0.25, 0.5, 0.75, None])


async def test_progress_increases_even_when_the_fraction_goes_back(mode: str) -> None:
    reports: list[Report] = []
    async with Client(served(), mode=mode) as client:
        await client.call_tool("threaded", {}, progress_callback=recorder(reports))
    assert [p for p, _, _ in reports] == [1, 2]
    assert [p / t for p, t, _ in reports if t] == pytest.approx([0.5, 0.25])


async def test_registered_secrets_are_masked_in_output_error_and_progress(mode: str) -> None:
    reports: list[Report] = []
    async with Client(served(), mode=mode) as client:
        echoed = await client.call_tool("echo_key", {}, progress_callback=recorder(reports))
        failed = await client.call_tool("fail_with_key", {})
    assert echoed.structured_content == {"result": "the key is [REDACTED]"}
    assert reports == [(1, None, "using [REDACTED]")]
    assert failed.is_error
    assert KEY not in failed.model_dump_json()
    assert "login refused for [REDACTED]" in failed.content[0].text  # type: ignore[union-attr]


async def test_weft_mcp_serve_over_http_sends_progress() -> None:
    args = ("mcp", "serve", "weft_progress_actions:tools", "--path", str(HERE))
    async with weft_process(
        *args, "--http", "127.0.0.1:0", ready=r"at (http://\S+/mcp)", cwd=ROOT
    ) as proc:
        reports: list[Report] = []
        async with Client(proc.ready.group(1)) as client:
            result = await client.call_tool(
                "countdown", {"n": 3}, progress_callback=recorder(reports)
            )
    assert result.structured_content == {"result": "liftoff"}
    assert [(p, m) for p, _, m in reports] == [(1, "3"), (2, "2"), (3, "1")]
