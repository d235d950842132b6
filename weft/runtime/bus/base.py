"""The ``Bus``: a deliberately small transport boundary (after httpx's transports).

Two transports implement it, the in-process bus and the MQTT v5 bus, with the
same topic semantics (``+``, ``#``, ``$share/group/``, retained messages).
Everything above (executor, registry, agent host) only sees this interface,
so it is tested on the in-process bus without a broker.

A transport implements four primitives: ``_start``, ``_stop``,
``_publish`` and ``_subscribe``, and reports its connection through
``_connection_up`` / ``_connection_down``. Built once, here, on top of them:
the checks both transports must agree on (topic and filter syntax, MQTT 4.7;
the payload size limit on publish; size and JSON depth on receipt, ``refuse``),
``reply`` (the answering half of MQTT v5 request/reply: Response Topic +
Correlation Data), and the one reconnect
signal (``connected``, ``reconnects``, ``connection_changed``).

The calling half of request/reply is not here: a remote call needs more than
one reply per request (an acceptance, then the result; re-sends after a
reconnect), so it lives in one place, ``weft.runtime.remote.call_client``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Self

from weft.protocols import BusError, Message, MessageProperties, Topics, new_id
from weft.runtime.bus.payload_limits import DEFAULT_MAX_JSON_DEPTH, Refusal, payload_problem

DEFAULT_MAX_PAYLOAD = 1024 * 1024
"""Largest payload a bus accepts by default (1 MiB).

Big enough for the artifacts weft passes between nodes (the conformance suite
sends 512 KiB), small enough that one oversized message cannot stall a broker
connection that every other call on the client shares (MQTT delivers a
client's messages in order, so a 50 MB payload delays every reply behind it).
Larger data belongs in a store, with a reference on the bus.
"""


def check_topic(topic: str) -> str:
    """Reject a topic that MQTT would refuse to publish to (wildcards, NUL, empty)."""
    if not topic or any(c in topic for c in "+#\x00"):
        raise BusError(f"cannot publish to {topic!r}: a topic must be non-empty without + # NUL")
    return topic


def check_filter(pattern: str) -> str:
    """Reject a topic filter that an MQTT broker would refuse (MQTT 4.7.1, 4.8.2).

    ``+`` must fill a whole level, ``#`` must be the whole last level, and a
    ``$share/{group}/{filter}`` subscription needs a group and a filter.
    """
    body = pattern
    if pattern.startswith("$share/"):
        parts = pattern.split("/", 2)
        if len(parts) < 3 or not parts[1] or any(c in parts[1] for c in "+#") or not parts[2]:
            raise BusError(f"bad shared subscription {pattern!r}: use '$share/GROUP/FILTER'")
        body = parts[2]
    levels = body.split("/")
    ok = bool(body) and "\x00" not in body
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            ok = False
        if "+" in level and level != "+":
            ok = False
    if not ok:
        raise BusError(
            f"bad topic filter {pattern!r}: '+' must be a whole level, '#' the whole last level"
        )
    return pattern


class Subscription:
    """A stream of messages matching one topic filter; iterate it, then close it.

    Messages are queued without bound so a slow consumer never blocks a
    publisher; the consumer must keep up or close the subscription.
    """

    def __init__(self, pattern: str, on_close: Callable[[Subscription], Awaitable[None]]) -> None:
        self.pattern = pattern
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self._on_close = on_close
        self.closed = False

    def deliver(self, message: Message) -> None:
        if not self.closed:
            self._queue.put_nowait(message)

    async def get(self, timeout: float | None = None) -> Message:
        """The next message; ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            item = await self._queue.get()
        if item is None:
            raise BusError(f"subscription {self.pattern!r} closed")
        return item

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.put_nowait(None)
        await self._on_close(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class Bus(ABC):
    """Publish/subscribe with MQTT semantics, replies, and one reconnect signal."""

    def __init__(
        self,
        *,
        namespace: str = "default",
        client_id: str | None = None,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    ) -> None:
        self.topics = Topics(namespace)
        self.client_id = client_id or f"weft-{new_id()[:12]}"
        self.max_payload = max_payload
        self.max_json_depth = max_json_depth
        self._started = False
        self._up = asyncio.Event()
        self._changed = asyncio.Event()
        self._reconnects = 0

    # -- transport primitives -------------------------------------------------

    @abstractmethod
    async def _start(self) -> None:
        """Connect; call ``_connection_up()`` once messages can flow."""

    @abstractmethod
    async def _stop(self) -> None: ...

    @abstractmethod
    async def _publish(self, message: Message) -> None: ...

    @abstractmethod
    async def _subscribe(self, pattern: str, qos: int) -> Subscription: ...

    # -- public API -----------------------------------------------------------

    async def start(self) -> None:
        if not self._started:
            await self._start()
            self._started = True

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        self._up.clear()
        self._signal_change()  # wakes whoever waits for the connection: it is gone for good
        await self._stop()
        self._up.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def publish(
        self,
        topic: str,
        payload: bytes | str = b"",
        *,
        qos: int = 1,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> None:
        """Publish a message; returns once the transport accepted it (QoS 1: acked).

        Raises ``BusError`` for a topic with wildcards, a payload larger than
        ``max_payload`` bytes, or (MQTT) a broker that stays unreachable.
        """
        self._require_started()
        check_topic(topic)
        if isinstance(payload, str):
            payload = payload.encode()
        if len(payload) > self.max_payload:
            raise BusError(
                f"payload of {len(payload):,} bytes to {topic!r} exceeds the bus limit of "
                f"{self.max_payload:,} bytes (max_payload); put large data in a store and "
                "send a reference"
            )
        await self._publish(
            Message(
                topic=topic,
                payload=payload,
                qos=qos,
                retain=retain,
                properties=properties or MessageProperties(),
            )
        )

    async def subscribe(self, pattern: str, *, qos: int = 1) -> Subscription:
        """Subscribe to a topic filter; retained messages that match arrive first.

        Each ``Subscription`` receives every matching message exactly once,
        also when several subscriptions of one bus match the same message;
        the members of a ``$share/group/`` filter receive each message once
        between them. Raises ``BusError`` for a malformed filter.
        """
        self._require_started()
        return await self._subscribe(check_filter(pattern), qos)

    async def reply(
        self, request: Message, payload: bytes | str, *, properties: MessageProperties | None = None
    ) -> None:
        """Answer a request: publish to its Response Topic with its Correlation Data.

        A no-op when the request names no Response Topic (it wants no answer).
        """
        topic = request.properties.response_topic
        if not topic:
            return
        props = (properties or MessageProperties()).model_copy(
            update={"correlation_data": request.properties.correlation_data}
        )
        await self.publish(topic, payload, qos=1, properties=props)

    def refuse(self, payload: bytes) -> Refusal | None:
        """Why a received ``payload`` must not be decoded, or None when it may be.

        Over ``max_payload`` bytes, or JSON nested deeper than
        ``max_json_depth`` (measured on the bytes, without decoding). Every
        receiver asks before it decodes, and dead-letters what is refused.
        """
        return payload_problem(payload, max_bytes=self.max_payload, max_depth=self.max_json_depth)

    # -- the reconnect signal ---------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while messages flow: started, and (MQTT) connected with every filter subscribed."""
        return self._up.is_set()

    @property
    def reconnects(self) -> int:
        """How often the connection was re-established after a loss (never, in-process).

        A reply published while this client was away is lost, so a caller
        that sees this number change re-sends what it still waits for, and an
        agent re-announces itself (a restarted broker may have forgotten it).
        """
        return self._reconnects

    async def connection_changed(self) -> None:
        """Return at the next change of the connection: a loss, or the reconnect after it.

        This is the bus's one reconnect signal; nothing needs to poll. Read
        ``connected`` and ``reconnects`` after it returns, not the number of
        returns: several changes can happen before a waiter runs again.
        """
        await self._changed.wait()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the bus is (re)connected; ``BusError`` after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
        except TimeoutError:
            raise BusError(f"{type(self).__name__} not connected after {timeout:g}s") from None

    def _connection_up(self) -> None:
        """For transports: the connection is usable; after a loss this counts as a reconnect."""
        if self._up.is_set():
            return
        if self._started:  # not the first connect of start()
            self._reconnects += 1
        self._up.set()
        self._signal_change()

    def _connection_down(self) -> None:
        """For transports: the connection was lost (publishes wait for ``_connection_up``)."""
        if not self._up.is_set():
            return
        self._up.clear()
        self._signal_change()

    def _signal_change(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # -- internals ------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise BusError(f"{type(self).__name__} is not started (use 'async with bus:')")
