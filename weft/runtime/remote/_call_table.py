"""The idempotency table of an agent host: which calls it ran, runs, or may run again.

QoS 1 delivers at least once and callers re-send calls they fear lost, so
the same call reaches an agent more than once. The table maps each call id
to its latest attempt and that attempt's result future:

- the same ``(call_id, attempt)`` again gets the same future (a duplicate);
- a later attempt while an earlier one still runs joins it, and a later
  attempt after an ``ok`` result gets that result: the caller re-sent
  because it believed this agent dead, and the work must not be redone;
- a later attempt after a failed one starts a new run: a genuine retry.

The table is bounded (least recently used first out) but never forgets a
call that is still running.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from weft.protocols import ActionCall, ActionResult, ActionState

Runner = Callable[[ActionCall, "Entry"], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class Entry:
    """One call: its latest attempt, that attempt's result, and the task producing it."""

    attempt: int
    future: asyncio.Future[ActionResult]
    task: asyncio.Task[None] | None = None
    #: The host stopped this attempt at its drain timeout: its result is a hand-back.
    handed_back: bool = False

    def running(self) -> bool:
        return self.task is not None and not self.task.done()


class CallTable:
    """Call id -> ``Entry``, at most ``size`` entries (running ones are always kept)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        #: Runs started and not finished: running, or waiting for a slot.
        self.active = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, call_id: str) -> Entry | None:
        return self._entries.get(call_id)

    def values(self) -> list[Entry]:
        return list(self._entries.values())

    def entry_for(self, call: ActionCall, run: Runner) -> Entry:
        """The entry answering ``call``: an existing one, or a new run started by ``run``."""
        entry = self._entries.get(call.call_id)
        if entry is not None:
            self._entries.move_to_end(call.call_id)
            if (
                call.attempt <= entry.attempt
                or not entry.future.done()
                or entry.future.result().state is ActionState.OK
            ):
                return entry
        entry = Entry(attempt=call.attempt, future=asyncio.get_running_loop().create_future())
        self.active += 1
        entry.future.add_done_callback(self._finished)
        self._entries[call.call_id] = entry
        entry.task = asyncio.create_task(run(call, entry), name=f"weft-call-{call.call_id}")
        self._forget_old()
        return entry

    def _finished(self, _future: asyncio.Future[ActionResult]) -> None:
        self.active -= 1

    def _forget_old(self) -> None:
        while len(self._entries) > self.size:
            call_id, oldest = next(iter(self._entries.items()))
            if not oldest.future.done():
                return  # the table shrinks again once that call ends
            del self._entries[call_id]
