"""Ctrl-C and SIGTERM during ``weft run``, ``weft ask`` and ``weft resume``: both stop the run.

SIGTERM is what ``timeout``, ``docker stop``, systemd and Kubernetes send.
Python's default for it ends the process on the spot: the run stayed
``running`` in the journal and the trace store, its open spans were never
closed, and nothing said how to finish it. Here SIGTERM does what Ctrl-C
does: the run is cancelled (its nodes in flight recorded as cancelled, its
lease given back, its spans closed), stderr says ``terminated; resume with:
weft resume RUN``, and the exit status is 143 (128 + 15; Ctrl-C's is 130).

- Outside the event loop (loading agents, opening the journal) both signals
  raise ``Stopped``, a ``KeyboardInterrupt``, as Python raises
  ``KeyboardInterrupt`` for SIGINT: every ``except KeyboardInterrupt`` in the
  commands handles SIGTERM too (``stops_raise``).
- Inside it (``run_stoppable``) the first one cancels the run's task, as
  ``asyncio.run`` does for Ctrl-C, and ``Stopped`` is raised once the run has
  recorded how it ended.
- From the first one on, further ones are ignored, as ``weft agent serve``
  ignores them after its drain (``ignore_further_stops``): a supervisor
  repeating SIGTERM, or Ctrl-C pressed twice, would otherwise cut the
  journal's last write short with a traceback. What is left is bounded
  (cancelling tasks, closing the journal and trace store); SIGKILL still
  ends the process at once, and the run is then taken over by the next
  ``weft resume`` (its lease expires).

``def`` tools run in daemon worker threads (``weft.agents.worker_threads``):
a cancelled run gives them up, and the process exits without waiting for a
``time.sleep`` to return.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, NoReturn, TypeVar

import click

from weft.cli._agent_group import ignore_further_stops

T = TypeVar("T")

#: The signals that stop a run: Ctrl-C, and a supervisor's polite stop.
STOPS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """The command was stopped by ``signum`` (SIGINT or SIGTERM).

    A ``KeyboardInterrupt``, so that what handles Ctrl-C handles SIGTERM alike.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def how_stopped(exc: BaseException) -> tuple[str, int]:
    """The word for the stop (``interrupted``, ``terminated``) and the exit status."""
    signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
    word = "terminated" if signum == signal.SIGTERM else "interrupted"
    return word, 128 + int(signum)


def exit_stopped(exc: BaseException, run_id: str | None, again: str | None = "") -> NoReturn:
    """Name the run the stop cancelled and the ``weft resume`` that finishes it; exit 128+N.

    ``run_id``: this command's run (None: none had started). ``again``: the options
    the resume command needs, or None for a run that cannot be resumed (its run is
    only said to be cancelled).
    """
    _ignore_stops()  # the message and the journal's closing are not cut short
    word, status = how_stopped(exc)
    if run_id is None:
        message = f"{word} before the run started; nothing to resume"
    elif again is None:
        message = f"{word}; run {run_id} cancelled"
    else:
        message = f"{word}; resume with: weft resume {run_id}{again}"
    click.secho(message, fg="yellow", err=True)
    raise SystemExit(status)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    _ignore_stops()  # the first stop is the one handled
    raise Stopped(signum)


def _ignore_stops() -> None:
    if threading.current_thread() is threading.main_thread():
        for signum in STOPS:
            signal.signal(signum, signal.SIG_IGN)


def _handled(signum: int) -> bool:
    """Whether this process may take ``signum`` over: not one its parent made it ignore
    (a background job ignores SIGINT; ``nohup`` and some supervisors ignore more)."""
    return signal.getsignal(signum) is not signal.SIG_IGN


@contextlib.contextmanager
def stops_raise() -> Iterator[None]:
    """While the command runs, SIGINT and SIGTERM raise ``Stopped`` (the first one only).

    Left as they are off the main thread (a signal handler can only be set there),
    and for a signal the process was started ignoring. Put back on the way out,
    unless a stop came: then further ones stay ignored until the process ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    taken = {signum: signal.getsignal(signum) for signum in STOPS if _handled(signum)}
    for signum in taken:
        signal.signal(signum, _raise_stopped)
    try:
        yield
    finally:
        for signum, previous in taken.items():
            if signal.getsignal(signum) is _raise_stopped:
                signal.signal(signum, previous)


def stoppable(command: Callable[..., T]) -> Callable[..., T]:
    """``command`` run inside ``stops_raise`` (put under the click decorators)."""
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with stops_raise():
            return command(*args, **kwargs)

    return wrapper


def run_stoppable(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, where the first SIGINT or SIGTERM cancels ``main``.

    ``main`` handles the cancellation as it handles Ctrl-C (the engines record
    the run ``cancelled``), then ``Stopped`` is raised here, naming the signal.
    Off the main thread it is ``asyncio.run`` as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(main)
    previous = {signum: signal.getsignal(signum) for signum in STOPS}
    stop: list[int] = []
    with asyncio.Runner() as runner:
        try:
            return runner.run(_until_stopped(main, stop))
        except asyncio.CancelledError:
            if not stop:
                raise
            raise Stopped(stop[0]) from None
        finally:
            if not stop:  # the loop's closing set them to Python's defaults
                for signum, handler in previous.items():
                    if handler is not None:
                        signal.signal(signum, handler)


async def _until_stopped(main: Coroutine[Any, Any, T], stop: list[int]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def on_stop(signum: int) -> None:
        stop.append(signum)
        ignore_further_stops(loop)
        task.cancel()

    for signum in STOPS:
        if _handled(signum):
            loop.add_signal_handler(signum, on_stop, signum)
    return await main
