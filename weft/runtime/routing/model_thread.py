"""The one thread, capped at one BLAS thread, that runs weft's own numpy models.

Both of routing's local models, the MiniLM embedder and the likelihood
stage's SmolLM2, are numpy forward passes whose matrices are too small for a
BLAS thread pool to pay off, and OpenBLAS's spinning workers collapse when
another process holds a core. The cap (``single_threaded_blas``) is
process-wide but did not reliably reach threads other than the one that first
ran BLAS under it: measured here, a MiniLM pass took ~35 ms on that thread and
80-900 ms on others, and a likelihood decision 3.4 s on the embedder's thread
against 18 s on a thread of its own (``weft route``, busy two-core machine).
So every model pass runs on one long-lived thread (``model_worker``), which
also serialises the two models, as a single BLAS thread would anyway.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

__all__ = ["model_worker", "on_model_worker", "single_threaded_blas"]


class _SingleThreadedBlas:
    """Caps BLAS at one thread while any model pass runs, then restores it.

    Measured here: 128 sentences through MiniLM took 1.4 s with one BLAS thread
    and 7 to 12 s with two on a busy two-core machine. The cap is process-wide
    (that is how BLAS libraries work), so it is reference-counted: it is set by
    the first concurrent pass and lifted by the last. It uses ``threadpoolctl``
    (a dependency of weft); were it missing, the cap would do nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._limiter: Any = None
        self._controller: Any = None
        self._probed = False

    def __enter__(self) -> None:
        with self._lock:
            if not self._probed:
                self._probed = True
                try:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                except ImportError:
                    self._controller = None
            if self._active == 0 and self._controller is not None:
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._active += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._limiter is not None:
                self._limiter.restore_original_limits()
                self._limiter = None


#: One BLAS thread while numpy model work runs (MiniLM, the likelihood stage): shared, so
#: one stage ending does not restore the limits while another still runs.
single_threaded_blas = _SingleThreadedBlas()


_WORKER_NAME = "weft-model"
_worker_pool: ModelWorker | None = None
_worker_lock = threading.Lock()


class ModelWorker(Executor):
    """One daemon thread that runs submitted calls in order.

    Not a ``ThreadPoolExecutor``: the interpreter joins those threads at exit, so a
    Ctrl-C during a model load or a forward pass (seconds of numpy) held ``weft
    ask`` for that long before it could exit. Model work holds nothing that must be
    finished: the likelihood stage's weight cache is written aside and renamed
    into place in one step.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._shutdown = False
        self._thread = threading.Thread(target=self._serve, name=_WORKER_NAME, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        if self._shutdown:
            raise RuntimeError("the model worker is shut down")
        future: Future[_T] = Future()
        self._queue.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True
        self._queue.put(None)
        if wait:
            self._thread.join()

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to the waiter, as an executor does
                future.set_exception(exc)


def model_worker() -> ModelWorker:
    """The one thread that runs every forward pass of weft's numpy models in this process."""
    global _worker_pool
    with _worker_lock:
        if _worker_pool is None:
            _worker_pool = ModelWorker()
        return _worker_pool


def on_model_worker() -> bool:
    """Whether this code already runs on the model thread (then it must not wait on it)."""
    return threading.current_thread().name.startswith(_WORKER_NAME)
