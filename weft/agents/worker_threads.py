"""The worker threads that plain ``def`` tools run in, off the event loop.

A sync function blocks whatever thread calls it. Run on the event loop, one
``time.sleep`` or blocking HTTP call stops every other node of the process,
its heartbeats and its timeouts. So a ``def`` tool runs in a worker thread from
a bounded pool, as LangGraph and the OpenAI Agents SDK run sync functions.

- **One shared pool**, ``DEFAULT_THREADS`` (32) threads, or ``$WEFT_THREADS``,
  or ``set_worker_threads(n)``. Threads start as work arrives and are kept
  for the next call. Tools mostly wait (on sockets, files, processes), so
  the bound is generous; CPU-bound Python does not get faster with more
  threads under the GIL, whatever the bound.
- **A pool of its own** for an action with ``@tool(max_threads=n)``: at most
  ``n`` of its calls run at once (1 for a library that is not thread-safe),
  whatever the shared pool holds.

A thread cannot be stopped from outside in Python. When the call that
started it times out or is cancelled, the caller gets its answer at once and
the thread runs on until the function returns; its result is discarded. What
happens to the thread's place in the pool depends on what the bound is for:

- the **shared pool** bounds resources, so a call given up on gives its place
  back at once: the thread it runs in is *abandoned* (it ends when the
  function returns, instead of waiting for more work) and the next call gets
  a new thread. Fifty tools stuck past their timeouts therefore never starve
  the calls after them. At most ``MAX_ABANDONED`` (256) abandoned threads
  are tolerated at once; beyond that a call given up on keeps its place,
  with a warning, so a tool that hangs on every call cannot make threads
  without end;
- a pool of an action's own (``max_threads=n``) bounds *concurrency* (one
  call at a time for a library that is not thread-safe), so a call given up
  on keeps its place until its function returns: starting another call
  beside it would break the promise.

A call given up on is marked so (``given_up`` in its thread): what it
still reports through its context is dropped (``tool.ThreadContext``). A node's
timeout counts from when a thread takes the call, not while it waits for one
(``thread_clock``); a call's watch hears when it starts, and when every place
in the bound is held by calls given up on (the pool is *stalled*: no queued
call can start until one of them returns).

The threads are daemon threads, so a process whose run is over exits without
waiting for them (``concurrent.futures.ThreadPoolExecutor`` joins its
threads at exit, and ``weft run`` would hang on a tool it already gave up on).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar, cast

from weft.agents.thread_clock import RunningClock
from weft.protocols import WeftError

__all__ = [
    "DEFAULT_THREADS",
    "MAX_ABANDONED",
    "THREADS_ENV",
    "CallGivenUp",
    "WorkerPool",
    "given_up",
    "given_up_check",
    "run_in_thread",
    "set_worker_threads",
    "shared_pool",
    "started_at",
    "worker_threads",
]

#: Size of the shared pool unless ``$WEFT_THREADS`` or ``set_worker_threads`` says otherwise.
DEFAULT_THREADS = 32
#: The environment variable read for the shared pool's size.
THREADS_ENV = "WEFT_THREADS"
#: Most threads a pool lets run on, outside its bound, with calls it gave up on.
MAX_ABANDONED = 256

T = TypeVar("T")

_log = logging.getLogger(__name__)


class CallGivenUp(WeftError):
    """Raised in a worker thread by ``ctx.ask`` of a call that was given up on.

    Its node timed out or its run was cancelled: nobody will answer, and the
    exception ends the function early. What it raises is discarded anyway.
    """


class _Job(Future[Any]):
    """One submitted call: the future that gets its outcome, and what to run."""

    def __init__(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        super().__init__()
        self.fn: Callable[..., Any] | None = fn
        self.args = args
        self.kwargs = kwargs
        #: Given up on while running: its thread has left the pool's bound.
        self.abandoned = False
        #: Its function has returned: too late to abandon it.
        self.finishing = False
        #: The caller stopped waiting for it (a timeout, a cancelled run): its
        #: progress and questions are dropped (``given_up``).
        self.given_up = False
        #: Given up on and still holding its place in the bound (see ``abandon``).
        self.holds = False
        #: Told, from any thread, ``"stall"``/``"unstall"`` while it waits behind
        #: calls given up on, and ``"start"`` once a thread takes it if ``want_start``.
        self.watch: Callable[[str], None] | None = None
        #: ``time.monotonic()`` when a thread took it (None until then).
        self.started_at: float | None = None
        #: Its watch asked to hear when it starts (only a call that waited long does:
        #: a word to the event loop per call would cost as much as the thread hop).
        self.want_start = False

    def run(self, settle: Callable[[_Job], None]) -> bool:
        """Run the call, if it was not cancelled first; False when it never started.

        ``settle`` is called once the function has returned, before the
        outcome is set: whoever waits on the future then finds the thread
        already back in the pool (or gone, if the call was abandoned).
        """
        fn, args, kwargs = self.fn, self.args, self.kwargs
        self.fn = self.args = self.kwargs = None  # the future outlives the call: drop arguments
        if fn is None or not self.set_running_or_notify_cancel():
            return False  # cancelled while it waited for a thread: never started
        self.started_at = time.monotonic()
        if self.want_start and self.watch is not None:
            self.watch("start")
        _current.job = self
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # the caller's await re-raises it, as ThreadPoolExecutor
            settle(self)
            self.set_exception(exc)
        else:
            settle(self)
            self.set_result(result)
        finally:
            _current.job = None
        return True


class _Current(threading.local):
    """The call a worker thread runs now (None between calls and in other threads)."""

    job: _Job | None = None


_current = _Current()


def given_up() -> bool:
    """Whether the call running in this thread was given up on by its caller.

    True in a worker thread whose call's node timed out or whose run was
    cancelled: the function runs on (a thread cannot be stopped), but what it
    reports is dropped, and a tool may check this to stop early. False
    anywhere else, a thread of the tool's own making included.
    """
    job = _current.job
    return job is not None and job.given_up


def started_at() -> float | None:
    """``time.monotonic()`` when this worker thread took the call it runs; None elsewhere.

    A node's timeout on a ``def`` tool counts from then (``thread_clock``), so
    the deadline the tool sees does too (``tool.ThreadContext``).
    """
    job = _current.job
    return None if job is None else job.started_at


def given_up_check() -> Callable[[], bool]:
    """``given_up`` of the call running in this thread, to ask later from any thread.

    A worker thread hands its progress to the event loop; the loop asks this
    before it passes the report on, since the call may be given up on between.
    """
    job = _current.job
    if job is None:
        return _never
    return lambda: job.given_up


def _never() -> bool:
    return False


class WorkerPool(Executor):
    """At most ``size`` daemon threads, started as work arrives and kept for the next.

    A ``concurrent.futures.Executor``: ``submit`` returns a ``Future``, and a
    future cancelled before a thread took it never runs. Safe to submit to
    from any thread and any event loop.

    ``replace_abandoned=True`` (the shared pool) lets ``abandon`` take a
    running call out of the bound, so that a call given up on does not hold
    a place until its function returns (see the module's docstring).
    """

    def __init__(
        self, size: int, name: str = "weft-tool", *, replace_abandoned: bool = False
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"a worker pool needs at least one thread, got {size!r}")
        self.size = size
        self.replace_abandoned = replace_abandoned
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # threads waiting for a job
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()  # alive, abandoned ones included
        self._live = 0  # threads holding a place in the bound
        self._abandoned = 0  # threads running a call given up on, outside the bound
        self._held = 0  # places in the bound held by calls given up on
        self._waiting: set[_Job] = set()  # queued calls that watch for stalls
        self._serial = 0
        self._warned = False
        self._closed = False

    @property
    def started(self) -> int:
        """Threads holding a place in the pool (they are kept): at most ``size``."""
        return self._live

    @property
    def abandoned(self) -> int:
        """Threads still running a call that was given up on, outside the bound."""
        return self._abandoned

    @property
    def stalled(self) -> bool:
        """Every place in the bound is held by a call given up on: no queued call can start."""
        return self._held >= self.size

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self.submit_watched(None, fn, *args, **kwargs)

    def submit_watched(
        self,
        watch: Callable[[str], None] | None,
        fn: Callable[..., T],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Future[T]:
        """``submit``, telling ``watch`` (from any thread, under the pool's lock: it must
        not block) ``"stall"``/``"unstall"`` when, while the call waits, every place in
        the bound becomes held by calls given up on, or one comes back; and ``"start"``
        when a thread takes it, once the caller set the future's ``want_start``.
        ``run_in_thread`` times a node's timeout with these (``thread_clock``)."""
        job = _Job(fn, args, kwargs)
        job.watch = watch
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot run a call in a worker pool that was shut down")
            if watch is not None:
                self._waiting.add(job)
                if self.stalled:
                    watch("stall")
            self._jobs.put(job)
            # An idle thread takes the job; else start one while the bound allows.
            if not self._idle.acquire(blocking=False) and self._live < self.size:
                self._start_thread()
        return job

    def _start_thread(self) -> None:
        """Start one more thread in the bound; the caller holds ``_lock``."""
        thread = threading.Thread(
            target=self._work, name=f"{self._name}-{self._serial}", daemon=True
        )
        self._serial += 1
        self._live += 1
        self._threads.add(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._jobs.put(None)  # the next thread stops too
                with self._lock:
                    self._live -= 1
                    self._threads.discard(threading.current_thread())
                return
            if job.watch is not None:  # one atomic step: no lock for the common case
                self._waiting.discard(job)
            ran = job.run(self._settle)
            if not ran:
                self._idle.release()
            elif job.abandoned:  # ``_settle`` gave its place to another thread: end here
                return
            del job  # do not keep the finished call alive while idle

    def _settle(self, job: _Job) -> None:
        """A call's function returned: its thread waits for the next call, or ends."""
        with self._lock:
            job.finishing = True
            if job.abandoned:
                self._abandoned -= 1
                self._threads.discard(threading.current_thread())
                return
            if job.holds:
                job.holds = False
                self._held -= 1
                if self._held == self.size - 1:
                    self._tell_waiting("unstall")
        self._idle.release()

    def _tell_waiting(self, what: str) -> None:
        """Tell the queued calls that watch that the pool stalled or moves again (under lock)."""
        for job in list(self._waiting):  # a snapshot: threads discard the calls they take
            if job.watch is not None:
                job.watch(what)

    def abandon(self, future: Future[Any]) -> bool:
        """Give up on a running call: its thread leaves the bound and ends when it returns.

        Returns True when the call's place in the pool went back (a waiting
        call gets a thread at once). False for a call that is not running
        (queued calls are cancelled instead), and for a pool without
        ``replace_abandoned`` or when ``MAX_ABANDONED`` threads already run
        on: then the call keeps its place until it returns, counted as held
        (when all places are held, the pool is ``stalled``). Either way the
        call is marked given up on (``given_up`` in its thread).
        """
        if not isinstance(future, _Job):
            return False
        with self._lock:
            future.given_up = True
            if future.abandoned or future.holds or future.finishing or not future.running():
                return False
            if not self.replace_abandoned:
                self._hold(future)
                return False
            if self._abandoned >= MAX_ABANDONED:
                if not self._warned:
                    self._warned = True
                    _log.warning(
                        "%d tool calls that were given up on (timed out or cancelled) still "
                        "run in threads of pool %r; later ones keep their place in the pool "
                        "until they return. Bound the tool's own waits (socket timeouts, "
                        "subprocess timeouts).",
                        self._abandoned,
                        self._name,
                    )
                self._hold(future)
                return False
            future.abandoned = True
            self._abandoned += 1
            self._live -= 1
            if not self._closed and not self._jobs.empty() and self._live < self.size:
                self._start_thread()  # a call waits and no thread may be free for it
            return True

    def _hold(self, job: _Job) -> None:
        """A running call given up on keeps its place (under lock): count it."""
        job.holds = True
        self._held += 1
        if self._held == self.size:
            self._tell_waiting("stall")

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more calls; threads finish what was submitted (unless cancelled), then end."""
        with self._lock:
            if not self._closed:
                self._closed = True
                if cancel_futures:
                    while True:
                        try:
                            job = self._jobs.get_nowait()
                        except queue.Empty:
                            break
                        if job is not None:
                            job.cancel()
                self._jobs.put(None)
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()


_shared: WorkerPool | None = None
_shared_size: int | None = None  # set by set_worker_threads; None: the environment decides
_shared_lock = threading.Lock()


def _size_from_environment() -> int:
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return DEFAULT_THREADS
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise WeftError(f"{THREADS_ENV} must be a whole number of at least 1, got {raw!r}")
    return size


def worker_threads() -> int:
    """The size of the shared pool the next sync tool call runs in."""
    with _shared_lock:
        if _shared is not None:
            return _shared.size
        return _shared_size if _shared_size is not None else _size_from_environment()


def set_worker_threads(n: int | None) -> None:
    """Size the shared pool of worker threads that ``def`` tools run in (None: the default).

    The default is ``$WEFT_THREADS``, else ``DEFAULT_THREADS`` (32). Calls
    already running or waiting in the old pool finish there; new calls go
    to the new one. Actions with ``@tool(max_threads=...)`` keep their own pool.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_worker_threads needs a whole number of at least 1, got {n!r}")
    global _shared, _shared_size
    with _shared_lock:
        old, _shared, _shared_size = _shared, None, n
    if old is not None:
        old.shutdown(wait=False)


def shared_pool() -> WorkerPool:
    """The shared pool, made on first use with the configured size."""
    global _shared
    pool = _shared
    if pool is not None:
        return pool
    with _shared_lock:
        if _shared is None:
            size = _shared_size if _shared_size is not None else _size_from_environment()
            _shared = WorkerPool(size, replace_abandoned=True)
        return _shared


async def run_in_thread(
    pool: WorkerPool,
    fn: Callable[..., T],
    kwargs: dict[str, Any],
    *,
    clock: RunningClock | None = None,
) -> T:
    """``fn(**kwargs)`` in one of ``pool``'s threads, with the caller's context variables.

    Cancelling the await (a node's timeout, a cancelled run) returns at once;
    the call is dropped if it had not started, or else runs on, its result
    is discarded, and the pool is told it was given up on (``abandon``).
    ``clock``, the node's timeout (``thread_clock``), is paused while the
    call waits for a thread and counts from when one starts running it.
    """
    context = contextvars.copy_context()  # what the caller bound (logging, model defaults)
    if clock is None:
        future = pool.submit(context.run, fn, **kwargs)
    else:
        future = pool.submit_watched(clock.watcher(), context.run, fn, **kwargs)
        clock.pause(cast(_Job, future))
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        if not future.cancel():  # a thread has it already
            pool.abandon(future)
        raise
