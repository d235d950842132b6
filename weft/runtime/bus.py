"""The ``Bus``: a deliberately small transport boundary (after httpx's transports).

Two transports implement it, the in-process bus and the MQTT v5 bus, with the
same topic semantics (``+``, ``#``, ``$share/group/``, retained messages).
Everything above (executor, registry, agent host) only sees this interface,
so it is tested on the in-process bus without a broker.

A transport implements four primitives: ``_start``, ``_stop``,
``_publish`` and ``_subscribe``. Request/reply (Response Topic + Correlation
Data, reply topic subscribed before the request is published) is built once,
here, on top of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType

from weft.protocols import (
    BusError,
    CallTimeoutError,
    Message,
    MessageProperties,
    Topics,
    new_id,
)


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

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class Bus(ABC):
    """Publish/subscribe with MQTT semantics, plus request/reply built on top."""

    def __init__(self, *, namespace: str = "default", client_id: str | None = None) -> None:
        self.topics = Topics(namespace)
        self.client_id = client_id or f"weft-{new_id()[:12]}"
        self._pending: dict[bytes, asyncio.Future[Message]] = {}
        self._reply_sub: Subscription | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._reply_lock = asyncio.Lock()
        self._correlation = itertools.count()
        self._started = False

    # -- transport primitives -------------------------------------------------

    @abstractmethod
    async def _start(self) -> None: ...

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
        if self._reply_task is not None:
            self._reply_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reply_task
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(BusError("bus closed while waiting for a reply"))
        self._pending.clear()
        self._started = False
        await self._stop()

    async def __aenter__(self) -> Bus:
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
        """Publish a message; returns once the transport accepted it (QoS 1: acked)."""
        self._require_started()
        if isinstance(payload, str):
            payload = payload.encode()
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
        """Subscribe to a topic filter; retained messages that match arrive first."""
        self._require_started()
        return await self._subscribe(pattern, qos)

    async def request(
        self,
        topic: str,
        payload: bytes | str,
        *,
        timeout: float,
        properties: MessageProperties | None = None,
    ) -> Message:
        """Publish a request and wait for the reply carrying its correlation data.

        Raises ``CallTimeoutError`` when no reply arrives within ``timeout``.
        The reply topic is subscribed before the request is published, so a
        fast responder cannot answer into the void.
        """
        self._require_started()
        await self._ensure_reply_listener()
        correlation = f"{self.client_id}:{next(self._correlation)}".encode()
        props = (properties or MessageProperties()).model_copy(
            update={
                "response_topic": self.topics.replies(self.client_id),
                "correlation_data": correlation,
            }
        )
        if props.message_expiry is None:
            props.message_expiry = max(1, int(timeout + 0.999))
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = future
        try:
            await self.publish(topic, payload, qos=1, properties=props)
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise CallTimeoutError(
                f"no reply on {topic!r} within {timeout:g}s (is an agent serving it?)"
            ) from None
        finally:
            self._pending.pop(correlation, None)

    async def reply(
        self, request: Message, payload: bytes | str, *, properties: MessageProperties | None = None
    ) -> None:
        """Answer a request received on a subscription (no-op if it wants no reply)."""
        topic = request.properties.response_topic
        if not topic:
            return
        props = (properties or MessageProperties()).model_copy(
            update={"correlation_data": request.properties.correlation_data}
        )
        await self.publish(topic, payload, qos=1, properties=props)

    # -- internals ------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise BusError(f"{type(self).__name__} is not started (use 'async with bus:')")

    async def _ensure_reply_listener(self) -> None:
        if self._reply_task is not None:
            return
        async with self._reply_lock:
            if self._reply_task is not None:
                return
            self._reply_sub = await self._subscribe(self.topics.replies(self.client_id), 1)
            self._reply_task = asyncio.create_task(
                self._dispatch_replies(self._reply_sub), name=f"weft-replies-{self.client_id}"
            )

    async def _dispatch_replies(self, sub: Subscription) -> None:
        async for message in sub:
            key = message.properties.correlation_data
            future = self._pending.get(key) if key is not None else None
            if future is not None and not future.done():
                future.set_result(message)
