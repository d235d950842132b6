"""Plain ``def`` tools run in worker threads: parallel, on time, and never freezing the loop.

Calls that must overlap meet at a ``threading.Barrier`` (they pass it only if
all of them run at once); what is checked as time itself (a timeout returns
when it says) is measured with wide margins. A tool that would block for long
waits on a ``threading.Event`` that the test sets at its end, so no thread
outlives it.
"""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pytest

import weft
from weft import NodeState, RunState, Workflow, loads_workflow, tool
from weft.agents import worker_threads
from weft.protocols import ActionCall, ActionContext, AgentCard, EventKind, RunEvent
from weft.runtime import run_workflow
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.engine.execution_context import UNUSED_CONTEXT
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.remote_action import RemoteAction

WAIT = 5.0  # seconds: the longest any wait below may take before the test fails


def worker_threads_module() -> Any:
    """``weft.agents.worker_threads`` the module (the package exports a function of that name)."""
    return importlib.import_module("weft.agents.worker_threads")


@pytest.fixture
def pool_size() -> Iterator[None]:
    """Give the shared pool back its default size after a test changed it."""
    yield
    weft.set_worker_threads(None)


@tool(inline=True)
def items(value: Any) -> Any:
    """Pass a list on to a foreach."""
    return value


async def wait_in_thread(event: threading.Event) -> bool:
    """Wait for a ``threading.Event`` set by a tool, without blocking the loop."""
    return await asyncio.to_thread(event.wait, WAIT)


async def test_a_foreach_over_six_blocking_def_tools_runs_all_six_at_once() -> None:
    # Not a wall-clock bound: six 0.5 s sleeps "in under 1 s" took 1.6 s on a loaded
    # machine, far from the 3 s of one after another, yet over the bound.
    all_six = threading.Barrier(6, timeout=WAIT)  # broken unless six calls wait at once

    @tool
    def meet(n: int) -> int:
        all_six.wait()
        return n

    assert worker_threads() >= 6  # the default pool holds all six at once
    wf = Workflow("meet")
    wf.node("items", items, with_={"value": list(range(6))})
    wf.node("meet", meet, after=["items"], foreach="${items}", with_={"n": "${item}"})
    result = await run_workflow(wf)
    assert result.ok, result.nodes["meet"].error
    assert result.outputs == {"meet": list(range(6))}


async def test_a_def_tool_that_outlives_its_timeout_ends_the_run_on_time() -> None:
    release = threading.Event()

    @tool
    def stuck() -> str:
        release.wait(5)  # sleeps 5 s unless the test lets it go
        return "late"

    spec = loads_workflow("name: stuck\nnodes:\n  hang:\n    action: stuck\n    timeout: 1\n")
    started = time.perf_counter()
    try:
        result = await run_workflow(spec, actions=[stuck])
    finally:
        release.set()
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0
    assert result.state is RunState.FAILED
    node = result.nodes["hang"]
    assert node.state is NodeState.FAILED
    assert node.error is not None and node.error.type == "Timeout"


async def test_the_siblings_of_a_timed_out_def_tool_still_finish() -> None:
    release = threading.Event()

    @tool
    def stuck() -> str:
        release.wait(5)
        return "late"

    @tool
    def quick() -> str:
        return "done"

    wf = Workflow("sibling", on_failure="continue")
    wf.node("hang", stuck, timeout=0.5)
    wf.node("quick", quick)
    try:
        result = await run_workflow(wf)
    finally:
        release.set()
    assert result.nodes["quick"].state is NodeState.SUCCEEDED
    assert result.nodes["hang"].error is not None
    assert result.nodes["hang"].error.type == "Timeout"


async def test_a_timed_out_def_tool_runs_on_in_its_thread_and_its_result_is_discarded() -> None:
    release, finished = threading.Event(), threading.Event()

    @tool
    def stuck() -> str:
        release.wait(WAIT)
        finished.set()
        return "late"

    wf = Workflow("abandoned")
    wf.node("hang", stuck, timeout=0.2)
    result = await run_workflow(wf)
    assert not finished.is_set()  # Python cannot stop the thread: it is still running
    release.set()
    assert await wait_in_thread(finished)  # it finishes in the background
    assert result.nodes["hang"].output is None  # and what it returned went nowhere


async def test_a_def_tool_runs_off_the_event_loop_thread() -> None:
    seen: list[int] = []

    @tool
    def where() -> None:
        seen.append(threading.get_ident())

    wf = Workflow("where")
    wf.node("where", where)
    await run_workflow(wf)
    assert seen and seen[0] != threading.get_ident()


async def test_an_inline_tool_runs_on_the_event_loop_thread() -> None:
    seen: list[int] = []

    @tool(inline=True)
    def where() -> None:
        seen.append(threading.get_ident())

    wf = Workflow("where")
    wf.node("where", where)
    await run_workflow(wf)
    assert seen == [threading.get_ident()]


async def test_a_plain_function_given_to_a_workflow_runs_in_a_thread_too() -> None:
    seen: list[int] = []

    def where() -> None:
        seen.append(threading.get_ident())

    wf = Workflow("plain")
    wf.node("where", where)
    await run_workflow(wf)
    assert seen and seen[0] != threading.get_ident()


class Peak:
    """A ``def`` tool that counts how many of its calls run at once."""

    def __init__(self, **options: Any) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

        @tool(name="work", **options)
        def work(n: int) -> int:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(0.05)  # the work: long enough for calls to overlap if they may
            with self.lock:
                self.running -= 1
            return n

        self.action = work

    async def run(self, count: int) -> int:
        """Run a foreach of ``count`` calls; the most that ran at once."""
        wf = Workflow("peak")
        wf.node("items", items, with_={"value": list(range(count))})
        wf.node("work", self.action, after=["items"], foreach="${items}", with_={"n": "${item}"})
        result = await run_workflow(wf)
        assert result.ok and result.outputs == {"work": list(range(count))}
        return self.most


async def test_max_threads_bounds_how_many_calls_of_an_action_run_at_once() -> None:
    assert await Peak(max_threads=2).run(6) == 2


@pytest.mark.usefixtures("pool_size")
async def test_set_worker_threads_sizes_the_shared_pool() -> None:
    weft.set_worker_threads(3)
    assert worker_threads() == 3
    assert await Peak().run(9) == 3


@pytest.mark.usefixtures("pool_size")
def test_weft_threads_in_the_environment_sizes_the_shared_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEFT_THREADS", "7")
    weft.set_worker_threads(None)
    assert worker_threads() == 7


@pytest.mark.usefixtures("pool_size")
def test_a_bad_weft_threads_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEFT_THREADS", "many")
    weft.set_worker_threads(None)
    with pytest.raises(weft.WeftError, match="WEFT_THREADS must be a whole number"):
        worker_threads()


async def test_a_def_tool_sees_the_context_variables_of_its_caller() -> None:
    tenant: ContextVar[str] = ContextVar("tenant", default="none")

    @tool
    def whose() -> str:
        return tenant.get()

    wf = Workflow("context")
    wf.node("whose", whose)
    tenant.set("acme")
    result = await run_workflow(wf)
    assert result.outputs == {"whose": "acme"}


async def test_progress_from_a_def_tool_reaches_listeners_on_the_loop_thread() -> None:
    loop_thread = threading.get_ident()
    heard_on: list[int] = []

    @tool
    def chatty(ctx: ActionContext) -> str:
        ctx.progress("halfway", 0.5)
        return "done"

    def listener(event: RunEvent) -> None:
        if event.kind is EventKind.PROGRESS:
            heard_on.append(threading.get_ident())

    wf = Workflow("progress")
    wf.node("chatty", chatty)
    result = await run_workflow(wf, listeners=[listener])
    assert result.ok
    assert heard_on == [loop_thread]


async def test_an_agent_keeps_heartbeating_while_a_def_tool_runs() -> None:
    release, running = threading.Event(), threading.Event()

    @tool
    def stuck() -> str:
        running.set()
        release.wait(WAIT)
        return "done"

    interval = 0.1
    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_bus,
        InProcessBus(broker) as caller_bus,
        AgentHost(agent_bus, [stuck], heartbeat_interval=interval) as host,
    ):
        cards = await caller_bus.subscribe(caller_bus.topics.card(host.agent_id))
        remote = RemoteAction(caller_bus, stuck.spec, pool="stuck")
        call = asyncio.create_task(remote.invoke(ActionCall(action="stuck", arguments={})))
        try:
            assert await wait_in_thread(running)
            seq_when_stuck = host.card().seq
            newer = 0
            while newer < 2:  # two heartbeats published while the tool is stuck
                card = AgentCard.model_validate_json((await cards.get(WAIT)).payload)
                newer += card.seq > seq_when_stuck
            assert not call.done()
        finally:
            release.set()
        result = await asyncio.wait_for(call, WAIT)
    assert result.output == "done"


@pytest.mark.usefixtures("pool_size")
async def test_def_tools_stuck_past_their_timeouts_never_starve_the_calls_after_them() -> None:
    weft.set_worker_threads(2)
    release = threading.Event()

    @tool
    def stuck() -> str:
        release.wait(WAIT)
        return "late"

    @tool
    def quick() -> str:
        return "ok"

    hang = loads_workflow("name: hang\nnodes:\n  hang:\n    action: stuck\n    timeout: 0.05\n")
    try:
        for _ in range(10):  # in a row: five times the pool
            result = await run_workflow(hang, actions=[stuck])
            assert result.nodes["hang"].error is not None
            assert result.nodes["hang"].error.type == "Timeout"
        wf = Workflow("many")  # and at once
        wf.node("items", items, with_={"value": list(range(10))})
        wf.node("hang", stuck, after=["items"], foreach="${items}", timeout=0.1)
        assert not (await run_workflow(wf)).ok
        after = Workflow("after")
        after.node("quick", quick, timeout=WAIT)
        started = time.perf_counter()
        result = await run_workflow(after)
        assert result.ok and result.outputs == {"quick": "ok"}
        assert time.perf_counter() - started < 1.0  # a thread at once, not after the stuck ones
        assert worker_threads_module().shared_pool().started <= 2  # the bound still holds
    finally:
        release.set()


SCRIPT_WITH_A_STUCK_TOOL = """
import time
import weft

@weft.tool
def stuck() -> str:
    time.sleep(60)
    return "late"

wf = weft.Workflow("stuck")
wf.node("hang", stuck, timeout=0.5)
result = weft.run_sync(wf)
print(result.nodes["hang"].error.type)
"""


def test_a_script_whose_def_tool_timed_out_exits_without_waiting_for_it(
    tmp_path: Path,
) -> None:
    script = tmp_path / "stuck.py"
    script.write_text(SCRIPT_WITH_A_STUCK_TOOL)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=50)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Timeout"
    assert elapsed < 30  # the tool sleeps 60 s: the process did not wait for its thread


async def test_a_call_still_waiting_for_a_thread_when_its_node_times_out_never_starts() -> None:
    release = threading.Event()
    started: list[int] = []

    @tool(max_threads=1)
    def single(n: int) -> int:
        started.append(n)
        release.wait(WAIT)
        return n

    wf = Workflow("queued")
    wf.node("items", items, with_={"value": [0, 1]})
    wf.node("one", single, after=["items"], foreach="${items}", with_={"n": "${item}"},
            timeout=0.3)  # fmt: skip
    result = await run_workflow(wf)
    release.set()
    assert result.nodes["one"].error is not None
    # One more call queues behind whatever the only thread still had to do.
    later = await single.invoke(ActionCall(action="single", arguments={"n": 2}), UNUSED_CONTEXT)
    assert later.output == 2
    assert started == [0, 2]  # item 1 waited for the thread and was dropped, never run
