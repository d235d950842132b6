"""The calls an agent holds for each caller, and the ``CallsHeld`` reports that say so.

An agent accepts a call the moment it receives it, however long its queue;
from then on the caller must be able to tell "busy" from "gone" without
re-sending anything, since a re-send to another replica would run the call
twice. The card heartbeat says the process is alive; these reports say, once
per heartbeat interval, which of *this caller's* calls it still holds, so a
caller also notices a result that was lost on its way (the call is no longer
listed, and no result came) and asks the same agent again.

Only calls whose caller asked (``weft-held: 1``) are listed, one report per
Response Topic per interval (at most ``HELD_CHUNK`` calls each), so the cost
is a message per caller per interval, not per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from weft.protocols import ActionCall, BusError, Message, MessageProperties
from weft.protocols.remote import (
    HELD_CHUNK,
    HELD_PROPERTY,
    KIND_HELD,
    KIND_PROPERTY,
    CallsHeld,
    HeldCall,
)
from weft.runtime.bus.base import Bus

log = logging.getLogger(__name__)

_Held = dict[bytes, tuple[str, int]]  # correlation data -> (call id, attempt)


class HeldCalls:
    """What one agent holds, by Response Topic; reports it every ``interval`` seconds."""

    def __init__(self, bus: Bus, agent_id: str, interval: float, queued: Callable[[], int]) -> None:
        self.bus = bus
        self.agent_id = agent_id
        self.interval = interval
        self._queued = queued
        self._by_topic: dict[str, _Held] = {}
        self._task: asyncio.Task[None] | None = None

    def hold(self, message: Message, call: ActionCall) -> bool:
        """Note a received call until ``release``; True if its caller asked for reports."""
        props = message.properties
        topic, key = props.response_topic, props.correlation_data
        if props.user_properties.get(HELD_PROPERTY) != "1" or not topic or key is None:
            return False
        self._by_topic.setdefault(topic, {})[key] = (call.call_id, call.attempt)
        return True

    def release(self, message: Message) -> None:
        """The call's result went out (or could not): no longer listed."""
        props = message.properties
        if props.response_topic is None or props.correlation_data is None:
            return
        held = self._by_topic.get(props.response_topic)
        if held is None:
            return
        held.pop(props.correlation_data, None)
        if not held:
            del self._by_topic[props.response_topic]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"weft-agent-{self.agent_id}-held")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def report(self) -> None:
        """Send each caller the list of its calls held here; a failed send waits for the next."""
        queued = self._queued()
        for topic, held in list(self._by_topic.items()):
            items = list(held.items())
            for start in range(0, len(items), HELD_CHUNK):
                chunk = items[start : start + HELD_CHUNK]
                report = CallsHeld(
                    agent_id=self.agent_id,
                    queued=queued,
                    calls=[
                        HeldCall(call_id=call_id, attempt=attempt, correlation=key.hex())
                        for key, (call_id, attempt) in chunk
                    ],
                )
                properties = MessageProperties(
                    correlation_data=chunk[0][0], user_properties={KIND_PROPERTY: KIND_HELD}
                )
                try:
                    await self.bus.publish(
                        topic, report.model_dump_json(), qos=1, properties=properties
                    )
                except BusError as exc:
                    log.debug("agent %s: held report to %s failed: %s", self.agent_id, topic, exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.report()
