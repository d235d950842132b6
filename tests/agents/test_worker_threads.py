"""The worker pool that ``def`` tools run in, and the ``@tool`` options that choose where."""

from __future__ import annotations

import asyncio
import importlib
import threading
from concurrent.futures import Future
from typing import Any

import pytest

from weft import ActionCall, tool
from weft.agents.worker_threads import WorkerPool, run_in_thread
from weft.runtime.engine.execution_context import UNUSED_CONTEXT

WAIT = 5.0


def blocker(release: threading.Event, started: threading.Event | None = None) -> str:
    if started is not None:
        started.set()
    release.wait(WAIT)
    return threading.current_thread().name


def test_a_pool_starts_threads_as_work_arrives_and_never_more_than_its_size() -> None:
    pool = WorkerPool(2)
    release = threading.Event()
    assert pool.started == 0
    futures = [pool.submit(blocker, release) for _ in range(5)]
    assert pool.started == 2
    release.set()
    names = {future.result(WAIT) for future in futures}
    assert len(names) == 2
    pool.shutdown()


def test_an_idle_thread_takes_the_next_call_instead_of_a_new_one() -> None:
    pool = WorkerPool(4)
    for _ in range(3):
        pool.submit(lambda: None).result(WAIT)
    assert pool.started == 1
    pool.shutdown()


def test_its_threads_are_daemons_so_a_process_never_waits_for_an_abandoned_call() -> None:
    pool = WorkerPool(1, name="daemon-check")
    release = threading.Event()
    future = pool.submit(blocker, release)
    try:
        [thread] = [t for t in threading.enumerate() if t.name.startswith("daemon-check-")]
        assert thread.daemon
    finally:
        release.set()
    future.result(WAIT)
    pool.shutdown()


def test_a_call_cancelled_before_a_thread_took_it_never_runs() -> None:
    pool = WorkerPool(1)
    release, started = threading.Event(), threading.Event()
    busy = pool.submit(blocker, release, started)
    assert started.wait(WAIT)
    ran: list[bool] = []
    waiting: Future[None] = pool.submit(lambda: ran.append(True))
    assert waiting.cancel()
    release.set()
    busy.result(WAIT)
    pool.shutdown()
    assert ran == []


def test_an_exception_in_a_call_is_raised_by_its_future() -> None:
    pool = WorkerPool(1)

    def fail() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        pool.submit(fail).result(WAIT)
    pool.shutdown()


def test_a_pool_that_was_shut_down_takes_no_more_calls() -> None:
    pool = WorkerPool(1)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(lambda: None)


def test_a_call_given_up_on_gives_its_place_in_a_replacing_pool_back() -> None:
    pool = WorkerPool(1, replace_abandoned=True)
    release, started = threading.Event(), threading.Event()
    stuck = pool.submit(blocker, release, started)
    assert started.wait(WAIT)
    waiting = pool.submit(lambda: "next")  # queued behind the stuck call
    assert pool.abandon(stuck)
    assert waiting.result(WAIT) == "next"  # a new thread took it, not the stuck one
    assert (pool.started, pool.abandoned) == (1, 1)
    release.set()
    stuck.result(WAIT)
    pool.shutdown()  # joins the abandoned thread too: it ended when its call returned
    assert pool.abandoned == 0


def test_a_pool_of_an_actions_own_keeps_the_place_of_a_call_given_up_on() -> None:
    pool = WorkerPool(1)  # max_threads=1: one call at a time, even a stuck one
    release, started = threading.Event(), threading.Event()
    stuck = pool.submit(blocker, release, started)
    assert started.wait(WAIT)
    assert not pool.abandon(stuck)
    assert (pool.started, pool.abandoned) == (1, 0)
    release.set()
    stuck.result(WAIT)
    pool.shutdown()


def test_a_waiting_call_is_told_when_the_pool_stalls_behind_calls_given_up_on() -> None:
    pool = WorkerPool(1)
    release, started = threading.Event(), threading.Event()
    stuck = pool.submit(blocker, release, started)
    assert started.wait(WAIT)
    news: list[str] = []
    queued = pool.submit_watched(news.append, lambda: "ran")
    assert not pool.stalled and news == []  # behind live work: a plain wait
    pool.abandon(stuck)  # given up on, and it keeps the only place
    assert pool.stalled and news == ["stall"]
    release.set()
    assert queued.result(WAIT) == "ran"
    assert news == ["stall", "unstall"]  # "start" only for a call whose watch asked
    assert not pool.stalled
    pool.shutdown()


def test_a_call_submitted_to_a_stalled_pool_is_told_at_once() -> None:
    pool = WorkerPool(1)
    release, started = threading.Event(), threading.Event()
    stuck = pool.submit(blocker, release, started)
    assert started.wait(WAIT)
    pool.abandon(stuck)
    news: list[str] = []
    queued = pool.submit_watched(news.append, lambda: "ran")
    assert news == ["stall"]
    release.set()
    assert queued.result(WAIT) == "ran"
    pool.shutdown()


def test_a_replacing_pool_never_stalls_behind_an_abandoned_call() -> None:
    pool = WorkerPool(1, replace_abandoned=True)
    release, started = threading.Event(), threading.Event()
    stuck = pool.submit(blocker, release, started)
    assert started.wait(WAIT)
    assert pool.abandon(stuck)
    assert not pool.stalled
    release.set()
    pool.shutdown()


def test_only_a_running_call_can_be_abandoned() -> None:
    pool = WorkerPool(1, replace_abandoned=True)
    done = pool.submit(lambda: 1)
    assert done.result(WAIT) == 1
    assert not pool.abandon(done)
    assert not pool.abandon(Future())  # not one of this pool's calls
    pool.shutdown()


def test_past_max_abandoned_a_call_keeps_its_place_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    module = importlib.import_module("weft.agents.worker_threads")  # the package exports a
    monkeypatch.setattr(module, "MAX_ABANDONED", 1)  # function of the same name
    pool = WorkerPool(2, name="capped", replace_abandoned=True)
    release = threading.Event()
    started = [threading.Event(), threading.Event()]
    calls = [pool.submit(blocker, release, event) for event in started]
    assert all(event.wait(WAIT) for event in started)
    try:
        assert pool.abandon(calls[0])
        with caplog.at_level("WARNING", logger="weft.agents.worker_threads"):
            assert not pool.abandon(calls[1])
        assert "given up on" in caplog.text and "'capped'" in caplog.text
        assert (pool.started, pool.abandoned) == (1, 1)
    finally:
        release.set()
    for call in calls:
        call.result(WAIT)
    pool.shutdown()


async def test_cancelling_run_in_thread_abandons_the_running_call() -> None:
    pool = WorkerPool(1, replace_abandoned=True)
    release, started = threading.Event(), threading.Event()
    task = asyncio.create_task(
        run_in_thread(pool, blocker, {"release": release, "started": started})
    )
    assert await asyncio.to_thread(started.wait, WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.abandoned == 1
    assert await run_in_thread(pool, lambda: "free", {}) == "free"
    release.set()
    pool.shutdown()


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_a_pool_needs_a_whole_number_of_threads(size: Any) -> None:
    with pytest.raises(ValueError):
        WorkerPool(size)


# -- where a tool runs: the @tool options ------------------------------------------


async def thread_of(action: Any) -> int:
    result = await action.invoke(ActionCall(action=action.name, arguments={}), UNUSED_CONTEXT)
    assert result.ok, result.error
    return int(result.output)


async def test_blocking_true_is_still_accepted_and_runs_in_a_thread() -> None:
    @tool(blocking=True)
    def where() -> int:
        return threading.get_ident()

    assert await thread_of(where) != threading.get_ident()


async def test_inline_true_runs_on_the_callers_thread() -> None:
    @tool(inline=True)
    def where() -> int:
        return threading.get_ident()

    assert await thread_of(where) == threading.get_ident()


async def test_max_threads_runs_an_action_in_a_pool_of_its_own() -> None:
    @tool(max_threads=1)
    def where() -> str:
        return threading.current_thread().name

    result = await where.invoke(ActionCall(action="where", arguments={}), UNUSED_CONTEXT)
    assert result.output == "weft-where-0"


def test_inline_cannot_be_combined_with_threads() -> None:
    def f() -> None: ...

    with pytest.raises(TypeError, match="inline=True runs on the event loop"):
        tool(inline=True, max_threads=2)(f)
    with pytest.raises(TypeError, match="inline=True runs on the event loop"):
        tool(inline=True, blocking=True)(f)


def test_an_async_function_takes_no_thread_options() -> None:
    async def f() -> None: ...

    with pytest.raises(TypeError, match="async function runs on the event loop"):
        tool(max_threads=2)(f)
    with pytest.raises(TypeError, match="async function runs on the event loop"):
        tool(inline=True)(f)


@pytest.mark.parametrize("size", [0, -3, True, 2.0])
def test_max_threads_must_be_a_whole_number_of_at_least_one(size: Any) -> None:
    def f() -> None: ...

    with pytest.raises(TypeError, match="max_threads must be a whole number"):
        tool(max_threads=size)(f)
