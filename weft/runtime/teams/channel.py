"""One conversation's topic on the bus: messages go out and come back in the bus's order.

The team's log is what the bus delivered, not what the team meant to send:
``post`` publishes a message and returns once it has come back on the
subscription, taking in every message that arrived before it (results of
async tasks, progress, anything another client published). So the log is the
same in-process and over MQTT, and an observer on the topic sees exactly what
the members saw.

Publishing is serialised by one lock, and the state a message carries is read
under it: the messages on the topic therefore follow the state machine in
the order they are delivered, whichever coroutine sent them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from pydantic import ValidationError

from weft.protocols.teams import TeamMessage, TeamState
from weft.runtime.bus.base import Bus, Subscription
from weft.runtime.bus.inprocess import InProcessBus


class TeamChannel:
    """Publishes to and reads from ``topic``; ``log`` is every message taken in, in order."""

    def __init__(self, bus: Bus, topic: str, conversation: str) -> None:
        self.bus = bus
        self.topic = topic
        self.conversation = conversation
        self.log: list[TeamMessage] = []
        self._sub: Subscription | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[TeamMessage], None]] = []

    async def open(self) -> None:
        """Subscribe before the first publish, so nothing sent to the topic is missed."""
        self._sub = await self.bus.subscribe(self.topic)

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.close()
            self._sub = None

    def listen(self, listener: Callable[[TeamMessage], None]) -> None:
        """Call ``listener`` with every message as it is taken into the log."""
        self._listeners.append(listener)

    async def send(self, build: Callable[[], TeamMessage]) -> TeamMessage:
        """Publish the message ``build`` makes under the publish lock (it reads the state there)."""
        async with self._lock:
            message = build()
            await self.bus.publish(self.topic, message.model_dump_json(), qos=1)
        return message

    async def post(self, build: Callable[[], TeamMessage]) -> TeamMessage:
        """``send``, then take in messages until this one has come back."""
        message = await self.send(build)
        await self.until(lambda m: m.id == message.id)
        return message

    async def until(
        self, done: Callable[[TeamMessage], bool], timeout: float | None = None
    ) -> TeamMessage:
        """Take in messages until one satisfies ``done``; ``TimeoutError`` after ``timeout``."""
        assert self._sub is not None, "open() the channel first"
        async with asyncio.timeout(timeout):
            while True:
                message = self._take(await self._sub.get())
                if message is not None and done(message):
                    return message

    async def drain(self) -> None:
        """Take in what has already arrived, without waiting for more."""
        assert self._sub is not None, "open() the channel first"
        while True:
            try:
                raw = await self._sub.get(timeout=0)
            except TimeoutError:
                return
            self._take(raw)

    def _take(self, raw: object) -> TeamMessage | None:
        payload = getattr(raw, "payload", b"")
        if self.bus.refuse(payload) is not None:
            return None
        try:
            message = TeamMessage.model_validate_json(payload)
        except ValidationError:
            return None  # not a team message: someone else's traffic on the topic
        if message.team != self.conversation:
            return None
        self.log.append(message)
        for listener in self._listeners:
            listener(message)
        return message

    def states(self) -> list[TeamState]:
        return [m.state for m in self.log]


@asynccontextmanager
async def conversation_channel(
    bus: Bus | None, name: str, call_id: str
) -> AsyncIterator[TeamChannel]:
    """The open channel of one conversation of ``name``: topic ``teams/{name}-{call id[:8]}``.

    On ``bus`` when given (started by its owner), else on a private in-process
    bus started and closed here.
    """
    own = InProcessBus() if bus is None else None
    carrier = own or bus
    assert carrier is not None
    if own is not None:
        await own.start()
    conversation = f"{name}-{call_id[:8]}"
    channel = TeamChannel(carrier, carrier.topics.team(conversation), conversation)
    try:
        await channel.open()
        yield channel
    finally:
        await channel.close()
        if own is not None:
            await own.close()
