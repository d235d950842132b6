"""When an LLM agent streams its answer, and how the pieces reach whoever listens.

Streaming is asked for in two ways:

- per agent: ``LLMAgent(..., stream=True)`` always streams, ``stream=False``
  never does;
- per run: an agent left at ``stream=None`` (the default) streams when the
  code running it says someone reads the text: inside ``stream_text()`` (a
  context variable, so the tasks a run starts inherit it). ``weft run``
  sets it when it prints the text, ``stream_workflow()`` always, and an
  agent host for the calls whose caller asked (user property
  ``weft-stream``). A run nobody watches pays nothing for it.

A streamed request reports its text as progress (``weft.protocols.streaming``:
``ctx.progress("", None, stream="text", delta=...)``), coalesced by
``TextDeltas`` to at most one report per ``STREAM_INTERVAL`` so the rate on
the bus and at the listeners does not follow the model's token rate (text
held back goes when the interval is up, even if the model pauses). The
assembled reply is the same message a request without streaming returns
(``chat_stream``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from weft.protocols.streaming import delta_data

_log = logging.getLogger(__name__)

#: Shortest time between two text reports of one request (seconds): ~20 a second.
STREAM_INTERVAL = 0.05

_wanted: ContextVar[bool] = ContextVar("weft_stream_text", default=False)


@contextmanager
def stream_text(on: bool = True) -> Iterator[None]:
    """In this block (and the tasks started in it), agents left at ``stream=None`` stream."""
    token = _wanted.set(on)
    try:
        yield
    finally:
        _wanted.reset(token)


def text_stream_wanted() -> bool:
    """True inside ``stream_text()``: someone reads the text of this context's agents."""
    return _wanted.get()


def wants_stream(setting: bool | None) -> bool:
    """An agent's ``stream`` setting, with ``None`` following ``stream_text()``."""
    return _wanted.get() if setting is None else setting


def progress_reporter(ctx: Any) -> Callable[[str], None] | None:
    """What reports a piece of text through ``ctx.progress``, or None when ``ctx`` has none."""
    report = getattr(ctx, "progress", None) if ctx is not None else None
    if not callable(report):
        return None

    def send(text: str) -> None:
        report("", None, **delta_data(text))

    return send


class TextDeltas:
    """Pieces of text gathered and passed on at most once per ``interval``.

    The first piece goes at once (the reader sees the answer start); later
    ones wait until ``interval`` has passed since the last report. Text held
    back is sent by a timer when the interval is up, even if no further piece
    comes (a model that pauses mid-answer, or thinks before its next token,
    does not keep the reader waiting for text it already wrote), and
    ``flush()`` sends what is left when the request ends.

    The timer is a ``loop.call_later`` handle, not a task: at most one is
    pending, ``flush()`` cancels it, so a request that ends (or is
    cancelled: its ``finally`` flushes) leaves nothing behind. Used without a
    running event loop (a plain function), there is no timer.
    """

    def __init__(
        self,
        report: Callable[[str], None],
        interval: float = STREAM_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._interval = interval
        self._clock = clock
        self._pending: list[str] = []
        self._last = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        #: How many reports were made (tests, spans).
        self.reports = 0

    def add(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        wait = self._interval - (self._clock() - self._last)
        if wait <= 0:
            self.flush()
        elif self._timer is None:
            self._timer = _call_later(wait, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self.flush()
        except Exception:  # a listener's fault must not surface in the event loop's handler
            _log.debug("held-back streamed text not reported", exc_info=True)

    def flush(self) -> None:
        """Report the text held back now (and cancel the pending timer)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._last = self._clock()
        self.reports += 1
        self._report(text)


def _call_later(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
    """``callback`` after ``delay`` seconds on the running loop; None without one."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.call_later(delay, callback)
