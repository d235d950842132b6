"""Request/reply by hand over a ``Bus``, for tests that exchange raw bytes.

weft's calling half (``weft.runtime.remote.call_client``) expects
``ActionResult`` replies. Tests of the transport under it (ACLs, TLS, the
latency guard) send bytes instead, so they match replies themselves, the
way a client in another language would: subscribe to the reply topic once,
publish each request with a Response Topic and its own Correlation Data.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from types import TracebackType

from weft.protocols import Message, MessageProperties
from weft.runtime.bus.base import Bus, Subscription


class Requester:
    """``async with Requester(bus) as requester: reply = await requester.request(...)``."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.reply_topic = bus.topics.replies(bus.client_id)
        self._pending: dict[bytes, asyncio.Future[Message]] = {}
        self._counter = itertools.count()
        self._sub: Subscription | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Requester:
        self._sub = await self.bus.subscribe(self.reply_topic)
        self._reader = asyncio.create_task(self._read(self._sub), name="test-replies")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._sub is not None:
            await self._sub.close()

    async def request(self, topic: str, payload: bytes, *, timeout: float) -> Message:
        """Publish ``payload`` to ``topic``; the reply; ``TimeoutError`` after ``timeout``."""
        key = f"test-{next(self._counter)}".encode()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        properties = MessageProperties(response_topic=self.reply_topic, correlation_data=key)
        try:
            await self.bus.publish(topic, payload, properties=properties)
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._pending.pop(key, None)

    async def _read(self, sub: Subscription) -> None:
        async for message in sub:
            key = message.properties.correlation_data
            future = self._pending.get(key) if key is not None else None
            if future is not None and not future.done():
                future.set_result(message)


async def serve_echo(bus: Bus, pattern: str, prefix: bytes = b"") -> asyncio.Task[None]:
    """Answer each message on ``pattern`` with ``prefix`` + its payload; cancel to stop."""
    sub = await bus.subscribe(pattern)

    async def serve() -> None:
        async with sub:
            async for request in sub:
                await bus.reply(request, prefix + request.payload)

    return asyncio.create_task(serve(), name=f"echo {pattern}")
