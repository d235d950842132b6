"""Calls served by ``weft mcp serve`` are traced as runs, as ``weft run``'s are.

The SDK's own ``Client`` calls ``weft mcp serve`` in a process of its own,
over stdio and streamable HTTP; then ``weft trace ls --json`` (another
process, as a user types it) lists one run per call, named ``TOOL (mcp)``,
with its state, and the store holds its spans: the run, the tool's call
(with the traceback a client is not sent), the calls it made by name, the
protocol and the client. ``--no-trace`` writes nothing, and no secret
reaches the trace file.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from served_actions import SECRET_ENV
from served_trace_store import home, spans_of, trace_ls

from weft.testing.processes import weft_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVE = ["mcp", "serve", "served_actions:tools", "--path", str(HERE.parent)]
#: What the secret-looking environment variable of the server holds.
SECRET = "envsecret-7f3a9c2e51d84b06"
#: An argument under a sensitive key, which the tool echoes in its output.
API_KEY = "argsecret-0b8e4d1f93a2c657"


def by_name(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {run["workflow"]: run for run in runs}


async def call_stdio(*calls: tuple[str, dict[str, Any]], flags: tuple[str, ...] = ()) -> list[Any]:
    """The calls through ``weft mcp serve`` on stdio; the server has ended when this returns
    (the client closes its stdin: it closes the trace store and exits)."""
    env = {**os.environ, SECRET_ENV: SECRET}  # the SDK passes a bare environment otherwise
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "weft", *SERVE, *flags], cwd=str(ROOT), env=env
    )
    async with Client(params) as client:
        return [await client.call_tool(name, arguments) for name, arguments in calls]


async def test_each_stdio_call_is_a_run_with_its_state_and_spans() -> None:
    results = await call_stdio(
        ("echo", {"text": "hello"}), ("relay", {"text": "hi"}), ("boom", {"n": 500})
    )
    assert [r.is_error for r in results] == [False, False, True]
    runs = by_name(trace_ls())
    assert runs["echo (mcp)"]["state"] == "succeeded"
    assert runs["relay (mcp)"]["state"] == "succeeded"
    assert runs["boom (mcp)"]["state"] == "failed"

    run, call = spans_of(runs["echo (mcp)"]["run_id"])
    assert (run.kind, run.parent_id, run.status) == ("run", None, "succeeded")
    assert (call.kind, call.name, call.status) == ("call", "echo", "ok")
    assert call.parent_id == run.span_id
    assert call.attributes["input"] == {"text": "hello"} and call.attributes["output"] == "hello"
    assert run.attributes["served.protocol"] == "mcp"
    assert run.attributes["served.client"].startswith("mcp/")  # the SDK's clientInfo
    assert run.end - run.start >= call.end - call.start > 0

    relay = spans_of(runs["relay (mcp)"]["run_id"])
    [relay_call] = [s for s in relay if s.name == "relay"]
    [nested] = [s for s in relay if s.name == "echo"]
    assert nested.kind == "call" and nested.parent_id == relay_call.span_id
    assert nested.attributes["output"] == "hi"
    assert relay_call.attributes["output"] == "relayed: hi"


async def test_a_failing_tool_gives_a_failed_run_that_keeps_the_traceback() -> None:
    """The client gets type and message only; the server's trace keeps the traceback."""
    [result] = await call_stdio(("boom", {"n": 500}))
    assert "Traceback" not in result.model_dump_json()
    run_id = by_name(trace_ls())["boom (mcp)"]["run_id"]
    run, call = spans_of(run_id)
    assert run.status == "failed"
    assert run.attributes["error"] == "ValueError: boom: 500 is too big for this tool"
    assert call.status == "error"
    error = call.attributes["error"]
    assert (error["type"], error["message"]) == ("ValueError", "boom: 500 is too big for this tool")
    assert "served_actions.py" in error["details"]["traceback"]


async def test_calls_over_http_are_listed_while_the_server_runs() -> None:
    args = (*SERVE, "--http", "127.0.0.1:0")
    async with (
        weft_process(*args, ready=r"at (http://\S+/mcp)", cwd=ROOT) as served,
        Client(served.ready.group(1)) as client,
    ):
        result = await client.call_tool("echo", {"text": "over http"})
        assert result.is_error is False
        # handed to the store's writer after the call; listed once committed
        async with asyncio.timeout(30):
            while "echo (mcp)" not in by_name(await asyncio.to_thread(trace_ls)):
                await asyncio.sleep(0.05)
    run = by_name(trace_ls())["echo (mcp)"]
    assert run["state"] == "succeeded" and run["spans"] == 2


async def test_no_trace_writes_nothing() -> None:
    args = (*SERVE, "--http", "127.0.0.1:0", "--no-trace")
    async with (
        weft_process(*args, ready=r"at (http://\S+/mcp)", cwd=ROOT) as served,
        Client(served.ready.group(1)) as client,
    ):
        assert (await client.call_tool("echo", {"text": "x"})).is_error is False
    [result] = await call_stdio(("echo", {"text": "y"}), flags=("--no-trace",))
    assert result.is_error is False
    assert not (home() / "traces.db").exists()


async def test_no_secret_reaches_the_trace_file() -> None:
    results = await call_stdio(
        ("echo", {"text": f"the token is {SECRET}"}),
        ("login", {"user": "alice", "api_key": API_KEY}),
    )
    sent = " ".join(r.model_dump_json() for r in results)
    assert SECRET not in sent and API_KEY not in sent  # as before: masked for the client
    runs = by_name(trace_ls())
    login = {s.name: s for s in spans_of(runs["login (mcp)"]["run_id"])}["login"]
    assert login.attributes["input"] == {"user": "alice", "api_key": "[REDACTED]"}
    assert login.attributes["output"] == "alice signed in with [REDACTED]"
    echo = {s.name: s for s in spans_of(runs["echo (mcp)"]["run_id"])}["echo"]
    assert echo.attributes["output"] == "the token is [REDACTED]"
    stored = b"".join(p.read_bytes() for p in home().glob("traces.db*"))
    assert SECRET.encode() not in stored and API_KEY.encode() not in stored


async def test_a_store_that_cannot_be_used_does_not_stop_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MCP client may start the server where nothing can be written: it serves, and
    says on stderr why it does not trace."""
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    monkeypatch.setenv("WEFT_HOME", str(taken / "home"))
    args = (*SERVE, "--http", "127.0.0.1:0")
    ready = r"(?s)not tracing the calls it serves: (.*?)\n.*at (http://\S+/mcp)"
    async with (
        weft_process(*args, ready=ready, cwd=ROOT) as served,
        Client(served.ready.group(2)) as client,
    ):
        result = await client.call_tool("echo", {"text": "still served"})
    assert result.is_error is False
    assert "is a file, not a folder" in served.ready.group(1)
    assert "--no-trace" in served.ready.group(1)
