"""A node's timeout for a ``def`` tool counts the call's own work, not its wait for a thread.

A ``def`` tool runs in a bounded pool of threads (``worker_threads``). A
``foreach`` over more items than the pool holds queues the rest; had the
node's ``timeout`` started when the call was made, an item still waiting for
a thread would time out without ever running (a 2 s tool with ``timeout: 5``
over 100 items would fail most of them). So, as job queues time a task from
when a worker takes it (Celery's time limits, Temporal's start-to-close
timeout), the timeout of a ``def`` tool starts when a thread starts running
it. What bounds the wait is the run itself: cancelling it drops every call
still queued, and they never start. The deadline the tool reads
(``ctx.call.deadline``, ``tool.ThreadContext``) is the one this clock applies
(``RunningClock.left_at``), not the one set when the call was made: a tool
that budgets its work by it would otherwise lose its wait for a thread twice.

One exception keeps a stuck tool from holding the calls behind it forever:
while *every* place in the pool is held by a call that was given up on (a
pool of the tool's own, ``max_threads=n``, keeps a timed-out call's place
until its function returns), the queued calls' clocks run. A tool that hangs
then fails the calls behind it after their own timeout, never started,
instead of stopping the run.

The engine hands the clock to the node's own action only (``take_clock``
checks the owner): a ``def`` tool that an LLM agent calls inside a timed
node waits for its thread on the agent's time, as every child call does.
Async actions are timed as before, from the call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from contextvars import ContextVar, Token
from typing import Protocol

__all__ = ["RunningClock", "WatchedCall", "running_clock", "take_clock"]


class WatchedCall(Protocol):
    """What the clock reads of a submitted call (``worker_threads._Job``)."""

    started_at: float | None
    want_start: bool


class RunningClock:
    """A running ``asyncio.Timeout`` of ``seconds``, paused while its call waits for a thread.

    Lives on the event loop: ``pause``, ``notice`` and the check run on the
    loop's thread; ``watcher`` makes the callback a pool calls from its threads.

    Telling the loop when every call starts would cost a wake-up of the loop
    per call (as much again as the hop to the thread). So the clock looks
    itself, once the earliest moment its deadline could pass has come (the
    time left, counted from the pause): a call that started by then has its
    deadline set from when it started; only a call still waiting then asks
    its thread to say when it starts (``want_start``).
    """

    __slots__ = (
        "_call",
        "_check",
        "_loop",
        "_open",
        "_remaining",
        "_since",
        "_started",
        "_timeout",
        "owner",
    )

    def __init__(self, timeout: asyncio.Timeout, seconds: float, owner: object) -> None:
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._remaining = seconds
        #: ``time.monotonic()`` since which the clock counts; None while paused.
        self._since: float | None = time.monotonic()
        self._started = False
        self._open = True
        self._call: WatchedCall | None = None
        self._check: asyncio.TimerHandle | None = None
        #: The action the clock is for (``take_clock``).
        self.owner = owner

    def pause(self, call: WatchedCall) -> None:
        """Stop counting: ``call`` was just handed to a pool and may wait for a thread."""
        self._call = call
        self._stop(time.monotonic())

    def notice(self, what: str, at: float) -> None:
        """What the pool told at ``at`` (monotonic): ``start``, ``stall`` or ``unstall``."""
        if not self._open or self._started:
            return  # the call ended, or runs: the clock counts to the end
        if what == "start":
            self._started = True
            self._count_from(at)
        elif what == "stall":
            self._count_from(at)
        else:
            self._stop(at)

    def left_at(self, at: float) -> float:
        """Seconds the timeout leaves a call that a thread started at ``at`` (monotonic).

        What the tool sees as its deadline (``tool.ThreadContext``): read from
        the call's thread, without a lock, so it reads ``_since`` once; a
        pause or stall that the loop records at that very moment moves the
        answer by the few microseconds the two writes apart take.
        """
        since = self._since
        if since is None or since > at:  # paused when the call started
            return self._remaining
        return self._remaining - (at - since)

    def watcher(self) -> Callable[[str], None]:
        """The callback a pool calls from any thread; it hands the news to the loop."""
        loop = self._loop

        def watch(what: str) -> None:
            with suppress(RuntimeError):  # the loop closed: nobody waits for the call any more
                loop.call_soon_threadsafe(self.notice, what, time.monotonic())

        return watch

    def close(self) -> None:
        """The call ended: later news from the pool changes nothing."""
        self._open = False
        self._disarm()

    def _stop(self, at: float) -> None:
        if not self._open or self._started or self._since is None:
            return
        self._remaining -= at - self._since
        self._since = None
        self._timeout.reschedule(None)
        self._disarm()
        delay = max(self._remaining, 0.0)
        self._check = self._loop.call_at(self._loop.time() + delay, self._look)

    def _look(self) -> None:
        """The earliest the deadline could pass: has the call started? Else hear when it does."""
        self._check = None
        call = self._call
        if not self._open or self._started or self._since is not None or call is None:
            return
        call.want_start = True  # its thread reads this after it sets ``started_at``
        at = call.started_at
        if at is not None:  # started already (its thread may tell too: heard once)
            self.notice("start", at)

    def _count_from(self, at: float) -> None:
        self._disarm()
        if self._since is not None:
            return
        self._since = at
        late = time.monotonic() - at  # since it started: the hop to the loop, or the wait
        self._timeout.reschedule(self._loop.time() + self._remaining - late)

    def _disarm(self) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None


_CLOCK: ContextVar[RunningClock | None] = ContextVar("weft_running_clock", default=None)


class running_clock:  # lower case: it reads as the function it replaces
    """Within this block, ``owner`` may take ``timeout`` (entered, of ``seconds``) as its clock.

    Does nothing for an action that does not run in a worker thread (its
    ``runs_in_thread`` is not true): async actions are timed from the call.
    """

    __slots__ = ("_clock", "_token")

    def __init__(self, timeout: asyncio.Timeout, seconds: float, owner: object) -> None:
        self._clock: RunningClock | None = None
        self._token: Token[RunningClock | None] | None = None
        if getattr(owner, "runs_in_thread", False) is True:
            self._clock = RunningClock(timeout, seconds, owner)

    def __enter__(self) -> None:
        if self._clock is not None:
            self._token = _CLOCK.set(self._clock)

    def __exit__(self, *exc: object) -> None:
        if self._clock is not None and self._token is not None:
            self._clock.close()
            _CLOCK.reset(self._token)


def take_clock(owner: object) -> RunningClock | None:
    """The clock the engine set for ``owner``'s call, once; None for anyone else.

    Taken, it is gone from the context, so nothing the call starts (a thread
    copies the context) takes it again.
    """
    clock = _CLOCK.get()
    if clock is None or clock.owner is not owner:
        return None
    _CLOCK.set(None)
    return clock
