"""One deferred flush, shared by everything that batches writes (journal, trace store, OTLP).

Writers append to a buffer and ``arm`` the timer; the flush runs once, a
short interval later, for everything appended meanwhile. Outside an event
loop there is nothing to defer to, so ``arm`` flushes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class FlushTimer:
    """Schedules ``flush`` at most once per ``interval``; ``cancel`` when flushing by hand."""

    __slots__ = ("_flush", "_handle", "interval")

    def __init__(self, interval: float, flush: Callable[[], None]) -> None:
        self.interval = interval
        self._flush = flush
        self._handle: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self) -> None:
        if self._handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()
            return
        self._handle = loop.call_later(self.interval, self._flush)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
