"""The state a served call's trace ends in, whatever way the call ends, over MCP and A2A.

In one process: ``McpActionServer`` behind the SDK's own ``Client`` (its
in-memory transport) and ``A2aCalls`` (what both A2A servers run a request
through), each given a ``MemoryTracer``. A call cancelled while it runs is a
``cancelled`` run; a call that asks a person and gets no answer is
``needs_input``; a server given no tracer records nothing.
"""

from __future__ import annotations

import asyncio

import pytest
from mcp import Client
from served_actions import tools

from weft import tool
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop.a2a_calls import A2aCalls
from weft.runtime.interop.mcp_server import McpActionServer
from weft.runtime.tracing.spans import MemoryTracer, SpanRecord


def hanging() -> tuple[object, asyncio.Event]:
    """A tool that says it started, then waits until it is cancelled."""
    started = asyncio.Event()

    @tool
    async def hang(text: str) -> str:
        """Waits for ever."""
        started.set()
        await asyncio.Event().wait()
        return text

    return hang, started


def run_span(tracer: MemoryTracer) -> SpanRecord:
    [run] = tracer.by_kind("run")
    return run


async def test_an_mcp_call_cancelled_while_it_runs_is_a_cancelled_run() -> None:
    hang, started = hanging()
    tracer = MemoryTracer()
    server = McpActionServer(ActionTable([hang]), tracer=tracer)
    call = asyncio.create_task(server.call("hang", {"text": "x"}))
    await started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert run_span(tracer).status == "cancelled"
    [span] = tracer.by_kind("call")
    assert (span.name, span.status) == ("hang", "cancelled")
    assert span.attributes["error"].type == "Cancelled"


async def test_an_a2a_task_cancelled_while_it_runs_is_a_cancelled_run() -> None:
    hang, started = hanging()
    tracer = MemoryTracer()
    calls = A2aCalls(ActionTable([hang]), tracer=tracer, protocol="a2a")
    task = asyncio.create_task(calls.run([{"text": "x"}], task_id="t1", client="ctx-1"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run = run_span(tracer)
    assert run.status == "cancelled"
    assert (run.attributes["served.client"], run.attributes["served.task"]) == ("ctx-1", "t1")
    assert [s.status for s in tracer.by_kind("call")] == ["cancelled"]


async def test_an_mcp_call_whose_question_is_declined_is_a_needs_input_run() -> None:
    tracer = MemoryTracer()
    server = McpActionServer(ActionTable(tools), tracer=tracer)

    async def decline(_context: object, _params: object) -> object:
        from mcp.types import ElicitResult

        return ElicitResult(action="decline")

    async with Client(server.server(), elicitation_callback=decline) as client:
        result = await client.call_tool("confirm", {"text": "the memo"})
    assert result.is_error is True
    # 2026-07-28: each round is a tools/call of its own, so a run of its own; the
    # declined round called nothing, and ends the call on its question
    runs = tracer.by_kind("run")
    assert [r.status for r in runs] == ["needs_input", "needs_input"]
    assert runs[-1].attributes["served.protocol"] == "mcp"
    assert [s.status for s in tracer.by_kind("call")] == ["needs_input"]


async def test_an_mcp_call_answered_by_elicitation_is_one_run_of_two_calls() -> None:
    tracer = MemoryTracer()
    server = McpActionServer(ActionTable(tools), tracer=tracer)

    async def accept(_context: object, _params: object) -> object:
        from mcp.types import ElicitResult

        return ElicitResult(action="accept", content={"answer": "yes"})

    async with Client(server.server(), elicitation_callback=accept) as client:
        result = await client.call_tool("confirm", {"text": "the memo"})
    assert result.structured_content == {"result": "sent the memo"}
    # 2026-07-28: each round is a tools/call of its own, so a run of its own
    runs = tracer.by_kind("run")
    assert [r.status for r in runs] == ["needs_input", "succeeded"]
    assert [s.status for s in tracer.by_kind("call")] == ["needs_input", "ok"]


async def test_over_the_handshake_an_elicited_call_is_one_run_of_two_calls() -> None:
    """Handshake-era clients are asked in the middle of the call: one ``tools/call``."""
    tracer = MemoryTracer()
    server = McpActionServer(ActionTable(tools), tracer=tracer)

    async def accept(_context: object, _params: object) -> object:
        from mcp.types import ElicitResult

        return ElicitResult(action="accept", content={"answer": "yes"})

    async with Client(server.server(), mode="legacy", elicitation_callback=accept) as client:
        result = await client.call_tool("confirm", {"text": "the memo"})
    assert result.structured_content == {"result": "sent the memo"}
    run = run_span(tracer)
    assert run.status == "succeeded" and run.attributes["output"] == "sent the memo"
    calls = tracer.by_kind("call")
    assert [s.status for s in calls] == ["needs_input", "ok"]
    assert {s.parent_id for s in calls} == {run.span_id}


async def test_a_server_given_no_tracer_records_nothing() -> None:
    server = McpActionServer(ActionTable(tools))
    assert server.traces is None
    result = await server.call("echo", {"text": "x"})
    assert result.is_error is False
    assert A2aCalls(ActionTable(tools)).traces is None
