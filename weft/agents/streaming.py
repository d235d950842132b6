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
the bus and at the listeners does not follow the model's token rate. The
assembled reply is the same message a request without streaming returns
(``chat_stream``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from weft.protocols.streaming import delta_data

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
    ones wait until ``interval`` has passed since the last report, and
    ``flush()`` sends what is left when the request ends. There is no timer:
    a model that pauses mid-answer holds back at most the text since the last
    report, until its next piece or its end.
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
        #: How many reports were made (tests, spans).
        self.reports = 0

    def add(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        if self._clock() - self._last >= self._interval:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._last = self._clock()
        self.reports += 1
        self._report(text)
