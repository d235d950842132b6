"""The idempotency table of an agent host: which calls it ran, runs, or may run again.

QoS 1 delivers at least once and callers re-send calls they fear lost, so
the same call reaches an agent more than once. The table maps each call id
to its latest attempt and that attempt's result future:

- the same ``(call_id, attempt)`` again gets the same future (a duplicate);
- a later attempt while an earlier one still runs joins it, and a later
  attempt after an ``ok`` result gets that result: the caller re-sent
  because it believed this agent dead, and the work must not be redone;
- a later attempt after a failed one starts a new run: a genuine retry.

The table is bounded twice, least recently used first out: by entries
(``size``) and by the bytes of the results it keeps (``max_bytes``, each
result counted as its JSON, spans included, measured once when it is set).
The byte bound is what keeps an agent whose results are large (5 MB each,
say) from holding gigabytes before the entry bound is reached. A call still
running is never forgotten (it keeps no result yet), nor is the result just
set when it alone is over the byte bound: it is forgotten when the next one
lands. A forgotten call is a new call to this table: a copy of it that
arrives later runs again (docs/protocol.md, "De-duplicates").
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from weft.protocols import ActionCall, ActionResult, ActionState

Runner = Callable[[ActionCall, "Entry"], Coroutine[Any, Any, None]]

#: Calls remembered at most, by default.
DEFAULT_SIZE = 10_000
#: Bytes of results remembered at most, by default (128 MiB).
DEFAULT_BYTES = 128 * 1024 * 1024


def result_bytes(result: ActionResult) -> int:
    """What a result weighs in the table: the length of its JSON (a ``ServedResult``'s
    spans included), the form it is sent in; the objects behind it weigh about as much."""
    return len(result.model_dump_json())


@dataclass(slots=True)
class Entry:
    """One call: its latest attempt, that attempt's result, and the task producing it."""

    attempt: int
    future: asyncio.Future[ActionResult]
    task: asyncio.Task[None] | None = None
    #: The host stopped this attempt at its drain timeout: its result is a hand-back.
    handed_back: bool = False
    #: Bytes this entry's result counts in the table (0 until it is set, or once forgotten).
    held: int = 0

    def running(self) -> bool:
        return self.task is not None and not self.task.done()


class CallTable:
    """Call id -> ``Entry``: at most ``size`` entries and ``max_bytes`` bytes of results
    (running calls are always kept; see the module docstring)."""

    def __init__(
        self,
        size: int = DEFAULT_SIZE,
        max_bytes: int = DEFAULT_BYTES,
        measure: Callable[[ActionResult], int] = result_bytes,
    ) -> None:
        if size < 1 or max_bytes < 1:
            raise ValueError(f"the call table needs room: size={size}, max_bytes={max_bytes}")
        self.size = size
        self.max_bytes = max_bytes
        self.measure = measure
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        #: Runs started and not finished: running, or waiting for a slot.
        self.active = 0
        #: Bytes of the results the table keeps now.
        self.bytes = 0

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
            self._release(entry)  # replaced by the new attempt's entry below
        entry = Entry(attempt=call.attempt, future=asyncio.get_running_loop().create_future())
        self.active += 1
        entry.future.add_done_callback(lambda future: self._finished(call.call_id, entry, future))
        self._entries[call.call_id] = entry
        entry.task = asyncio.create_task(run(call, entry), name=f"weft-call-{call.call_id}")
        self._forget_old()
        return entry

    def _finished(self, call_id: str, entry: Entry, future: asyncio.Future[ActionResult]) -> None:
        self.active -= 1
        if self._entries.get(call_id) is not entry or future.cancelled():
            return  # replaced (or forgotten) meanwhile: its result is not the table's
        entry.held = self.measure(future.result())
        self.bytes += entry.held
        self._forget_old(keep=entry)

    def _release(self, entry: Entry) -> None:
        self.bytes -= entry.held
        entry.held = 0

    def _forget_old(self, keep: Entry | None = None) -> None:
        """Forget finished calls, oldest first, until both bounds hold (or none is left
        to forget: running calls and ``keep`` stay). Stops at the first call that brings
        the table within bounds, so a table within them costs nothing to check."""
        extra_calls = len(self._entries) - self.size
        extra_bytes = self.bytes - self.max_bytes
        forgotten: list[str] = []
        for call_id, entry in self._entries.items():
            if extra_calls <= 0 and extra_bytes <= 0:
                break
            if entry is keep or not entry.future.done():
                continue
            forgotten.append(call_id)
            extra_calls -= 1
            extra_bytes -= entry.held
        for call_id in forgotten:
            self._release(self._entries.pop(call_id))
