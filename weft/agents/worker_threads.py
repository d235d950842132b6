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
the thread runs on until the function returns; its result is discarded and
its slot in the pool stays busy until then. The threads are daemon threads,
so a process whose run is over exits without waiting for them
(``concurrent.futures.ThreadPoolExecutor`` joins its threads at exit, and
``weft run`` would hang on a tool it already gave up on).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from weft.protocols import WeftError

__all__ = [
    "DEFAULT_THREADS",
    "THREADS_ENV",
    "WorkerPool",
    "run_in_thread",
    "set_worker_threads",
    "shared_pool",
    "worker_threads",
]

#: Size of the shared pool unless ``$WEFT_THREADS`` or ``set_worker_threads`` says otherwise.
DEFAULT_THREADS = 32
#: The environment variable read for the shared pool's size.
THREADS_ENV = "WEFT_THREADS"

T = TypeVar("T")


class _Job:
    """One submitted call and the future that gets its outcome."""

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(self, future: Future[Any], fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return  # cancelled while it waited for a thread: never started
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # the caller's await re-raises it, as ThreadPoolExecutor
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)


class WorkerPool(Executor):
    """At most ``size`` daemon threads, started as work arrives and kept for the next.

    A ``concurrent.futures.Executor``: ``submit`` returns a ``Future``, and a
    future cancelled before a thread took it never runs. Safe to submit to
    from any thread and any event loop.
    """

    def __init__(self, size: int, name: str = "weft-tool") -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"a worker pool needs at least one thread, got {size!r}")
        self.size = size
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # threads waiting for a job
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False

    @property
    def started(self) -> int:
        """Threads started so far (they are kept): at most ``size``."""
        return len(self._threads)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot run a call in a worker pool that was shut down")
            self._jobs.put(_Job(future, fn, args, kwargs))
            # An idle thread takes the job; else start one while the bound allows.
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._jobs.put(None)  # the next thread stops too
                return
            job.run()
            del job  # do not keep the finished call's arguments alive while idle
            self._idle.release()

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
                            job.future.cancel()
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
            _shared = WorkerPool(size)
        return _shared


async def run_in_thread(pool: WorkerPool, fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    """``fn(**kwargs)`` in one of ``pool``'s threads, with the caller's context variables.

    Cancelling the await (a node's timeout, a cancelled run) returns at once;
    the call is dropped if it had not started, or else runs on and its
    result is discarded.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()  # what the caller bound (logging, model defaults)
    return await loop.run_in_executor(pool, functools.partial(context.run, fn, **kwargs))
