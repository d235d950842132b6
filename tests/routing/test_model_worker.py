"""The model thread runs calls in order, hands back errors, and never holds up exit.

A Ctrl-C while the likelihood stage loaded its model (seconds of numpy) held
``weft ask`` that long: the interpreter joins a ``ThreadPoolExecutor``'s threads
at exit. The model thread is a daemon now.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from weft.runtime.routing.model_thread import ModelWorker, model_worker, on_model_worker


def test_calls_run_in_order_on_the_model_thread() -> None:
    worker = ModelWorker()
    seen: list[int] = []
    futures = [worker.submit(seen.append, i) for i in range(5)]
    assert [f.result(timeout=10) for f in futures] == [None] * 5
    assert seen == [0, 1, 2, 3, 4]
    assert worker.submit(on_model_worker).result(timeout=10) is True
    worker.shutdown()


def test_an_error_reaches_the_caller_and_the_thread_goes_on() -> None:
    worker = ModelWorker()

    def boom() -> None:
        raise ValueError("bad weights")

    with pytest.raises(ValueError, match="bad weights"):
        worker.submit(boom).result(timeout=10)
    assert worker.submit(lambda: 41 + 1).result(timeout=10) == 42
    worker.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(lambda: None)


def test_the_shared_worker_is_one() -> None:
    assert model_worker() is model_worker()


def test_exit_does_not_wait_for_model_work() -> None:
    """A process whose model thread is busy for a minute exits at once."""
    script = textwrap.dedent(
        """
        import time
        from weft.runtime.routing.model_thread import model_worker
        model_worker().submit(time.sleep, 60)
        time.sleep(0.2)  # the call is running
        print("leaving")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "leaving"
