"""A node's timeout on a ``def`` tool counts the call's own work, not its wait for a thread.

Calls queued for a full pool start their clock when a thread takes them; the
wait is bounded by the run (cancel it and queued calls never start), and by
the timeout again only while every place in the pool is held by a call that
was given up on. What a call given up on still says is dropped.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import weft
from weft import NodeState, RetryPolicy, Workflow, tool
from weft.agents.worker_threads import CallGivenUp
from weft.protocols import ActionCall, ActionContext, EventKind, RunEvent
from weft.runtime import run_workflow
from weft.runtime.engine.execution_context import UNUSED_CONTEXT

WAIT = 5.0  # seconds: the longest any wait below may take before the test fails


@pytest.fixture
def pool_of_two() -> Iterator[None]:
    weft.set_worker_threads(2)
    yield
    weft.set_worker_threads(None)


@tool(inline=True)
def items(value: Any) -> Any:
    """Pass a list on to a foreach."""
    return value


#: Ten naps through two threads: five rounds, so the last four items wait for a thread
#: longer than ``NAP_TIMEOUT`` (they would time out if the wait counted), while each nap's
#: own work leaves half a second to spare for a loaded machine's thread and loop hops.
NAP, NAPS, NAP_TIMEOUT = 0.2, 10, 0.7


def naps_through_two_threads(nap: Any) -> Workflow:
    wf = Workflow("naps")
    wf.node("items", items, with_={"value": [NAP] * NAPS})
    wf.node("naps", nap, after=["items"], foreach="${items}", with_={"seconds": "${item}"},
            timeout=NAP_TIMEOUT)  # fmt: skip
    return wf


@pytest.mark.usefixtures("pool_of_two")
async def test_foreach_items_waiting_for_the_shared_pool_do_not_time_out() -> None:
    @tool
    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    started = time.perf_counter()
    result = await run_workflow(naps_through_two_threads(nap))
    assert result.ok, result.nodes["naps"].error
    assert result.outputs == {"naps": [NAP] * NAPS}
    rounds = NAPS // 2
    assert time.perf_counter() - started >= rounds * NAP - 0.05  # five rounds: the pool held
    assert rounds * NAP > NAP_TIMEOUT  # the last items waited past the timeout, yet ran


async def test_foreach_items_waiting_for_a_pool_of_their_own_do_not_time_out() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    @tool(max_threads=2)
    def nap(seconds: float) -> float:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(seconds)
        with lock:
            running -= 1
        return seconds

    result = await run_workflow(naps_through_two_threads(nap))
    assert result.ok, result.nodes["naps"].error
    assert most == 2


@pytest.mark.usefixtures("pool_of_two")
async def test_a_call_running_past_its_timeout_still_times_out_on_time() -> None:
    release = threading.Event()

    @tool
    def stuck() -> str:
        release.wait(WAIT)
        return "late"

    wf = Workflow("stuck")
    wf.node("hang", stuck, timeout=0.2)
    started = time.perf_counter()
    try:
        result = await run_workflow(wf)
    finally:
        release.set()
    assert time.perf_counter() - started < 1.5
    error = result.nodes["hang"].error
    assert error is not None and error.type == "Timeout"


async def test_cancelling_a_run_drops_the_calls_still_waiting_for_a_thread() -> None:
    release, first_running = threading.Event(), threading.Event()
    started: list[int] = []

    @tool(max_threads=1)
    def single(n: int) -> int:
        started.append(n)
        first_running.set()
        release.wait(WAIT)
        return n

    wf = Workflow("queued")
    wf.node("items", items, with_={"value": [0, 1, 2]})
    wf.node("one", single, after=["items"], foreach="${items}", with_={"n": "${item}"},
            timeout=WAIT)  # fmt: skip
    run = asyncio.create_task(run_workflow(wf))
    try:
        assert await asyncio.to_thread(first_running.wait, WAIT)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(run, WAIT)
    finally:
        release.set()
    finished = await asyncio.to_thread(single.fn, 9)  # the thread is free again
    assert finished == 9
    assert started == [0, 9]  # items 1 and 2 waited for the thread and never ran


@pytest.mark.usefixtures("pool_of_two")
async def test_a_retried_def_tool_gets_a_fresh_timeout_for_each_attempt() -> None:
    release = threading.Event()
    calls: list[int] = []

    @tool
    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            release.wait(WAIT)  # the first attempt hangs past its timeout
        return "ok"

    wf = Workflow("retried")
    wf.node("flaky", flaky, timeout=0.2,
            retry=RetryPolicy(max_attempts=2, initial_delay=0.01))  # fmt: skip
    try:
        result = await run_workflow(wf)
    finally:
        release.set()
    assert result.ok and result.outputs == {"flaky": "ok"}
    assert result.nodes["flaky"].attempts == 2


async def test_progress_from_a_call_given_up_on_is_dropped() -> None:
    go, done = threading.Event(), threading.Event()
    heard: list[str] = []

    @tool
    def chatty(ctx: ActionContext) -> str:
        ctx.progress("early")
        go.wait(WAIT)
        ctx.progress("late")  # its node timed out meanwhile
        done.set()
        return "late"

    def listener(event: RunEvent) -> None:
        if event.kind is EventKind.PROGRESS:
            heard.append(event.data["message"])

    wf = Workflow("chatty")
    wf.node("chatty", chatty, timeout=0.2)
    result = await run_workflow(wf, listeners=[listener])
    go.set()
    assert await asyncio.to_thread(done.wait, WAIT)
    for _ in range(3):  # whatever the thread handed to the loop has run by now
        await asyncio.sleep(0)
    assert result.nodes["chatty"].state is NodeState.FAILED
    assert heard == ["early"]


async def test_ask_from_a_call_given_up_on_fails_in_its_thread() -> None:
    go, done = threading.Event(), threading.Event()
    raised: list[BaseException] = []

    @tool
    def curious(ctx: ActionContext) -> str:
        go.wait(WAIT)
        try:
            return str(ctx.ask("go on?"))
        except CallGivenUp as exc:
            raised.append(exc)
            raise
        finally:
            done.set()

    wf = Workflow("curious")
    wf.node("curious", curious, timeout=0.2)
    result = await run_workflow(wf)
    go.set()
    assert await asyncio.to_thread(done.wait, WAIT)
    node = result.nodes["curious"]
    assert node.state is NodeState.FAILED  # a timeout, not a question that stops the run
    assert node.error is not None and node.error.type == "Timeout"
    assert len(raised) == 1 and "given up on" in str(raised[0])


async def test_a_def_tool_called_by_a_timed_async_action_waits_on_the_callers_time() -> None:
    release, busy = threading.Event(), threading.Event()

    @tool(max_threads=1)
    def single() -> str:
        busy.set()
        release.wait(WAIT)
        return "done"

    @tool
    async def caller(ctx: ActionContext) -> str:
        result = await ctx.invoke("single", {})  # queued behind the call holding the thread
        return str(result.output)

    blocker = asyncio.create_task(
        single.invoke(ActionCall(action="single", arguments={}), UNUSED_CONTEXT)
    )
    try:
        assert await asyncio.to_thread(busy.wait, WAIT)
        wf = Workflow("nested")
        wf.node("caller", caller, timeout=0.3)
        wf.node("single", single, after=["caller"])  # registers the tool for ctx.invoke
        started = time.perf_counter()
        result = await run_workflow(wf)
        assert time.perf_counter() - started < 2.0  # the caller's timeout held
        error = result.nodes["caller"].error
        assert error is not None and error.type == "Timeout"
    finally:
        release.set()
        await asyncio.wait_for(blocker, WAIT)
