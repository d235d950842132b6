"""The caller's half of remote calls: correlation, acks and results, reconnect notices.

This is weft's one request/reply path on the bus (``Bus.reply`` is the
answering half). A remote call needs more than one reply per request: an
optional ``CallAccepted`` before the result, several sends of one call (each
with its own Correlation Data, all leading back to the same waiter), and a
notice when the bus reconnected (``Bus.connection_changed``), because a
reply published while this client was away is lost and the call must be
sent again. ``CallClient`` is that dispatcher; ``RemoteAction`` is the
policy on top of it.

There is one ``CallClient`` per bus (``CallClient.for_bus``). It listens on
the bus's own reply topic ``weft/{ns}/replies/{client_id}``, so brokers that
restrict each client to its reply topic by ACL keep working.

It also keeps what every call on the bus learns about agents: when each
agent was last heard from (``heard``: any ack, result or ``CallsHeld``
report), and how many calls are outstanding at each (``outstanding``), which
``RemoteAction`` reads to choose an agent and to tell a busy agent from a
silent one. A ``CallsHeld`` report does not wake the calls it lists; it only
moves their ``Waiter.heard_at``, read when a call checks on its holder.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref
from typing import Any

from pydantic import BaseModel, ValidationError

from weft.protocols import (
    CallAccepted,
    DeadLetterReason,
    Message,
    MessageProperties,
    ProgressEvent,
    ServedResult,
)
from weft.protocols.remote import (
    KIND_ACCEPTED,
    KIND_HELD,
    KIND_PROGRESS,
    KIND_PROPERTY,
    KIND_RESULT,
    CallsHeld,
)
from weft.runtime.bus.base import Bus, Subscription
from weft.runtime.remote._drain import handed_back
from weft.runtime.remote._incoming import validation_problems
from weft.runtime.remote.dead_letter import publish_dead_letter
from weft.runtime.support.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_clients: weakref.WeakKeyDictionary[Bus, CallClient] = weakref.WeakKeyDictionary()

Event = tuple[str, Any]
"""What a waiter receives: ``("result", ServedResult)``, ``("handed_back", ServedResult)``
(the holder's own drain hand-back, ``_drain``), ``("accepted", CallAccepted)``,
``("progress", ProgressEvent)``, ``("held", agent_id)`` (the first ``CallsHeld`` report of
an agent listing the call), ``("reconnected", None)`` or ``("agent", (change, agent_id))``
from a registry."""

#: The event of a result its agent handed back when it was stopped (``_drain``).
HANDED_BACK = "handed_back"
UNREADABLE = "unreadable"
"""The event of a result the agent holding the call sent but that is no ``ActionResult``."""

#: The payload of each kind of reply (``weft-kind``; a reply without one is a result).
#: A result is read as a ``ServedResult``: an ``ActionResult`` with the server's spans,
#: if it sent any.
_REPLY_MODELS: dict[str, type[BaseModel]] = {
    KIND_RESULT: ServedResult,
    KIND_ACCEPTED: CallAccepted,
    KIND_PROGRESS: ProgressEvent,
    KIND_HELD: CallsHeld,
}


class Waiter:
    """The inbox of one remote call; every send of the call routes its replies here."""

    def __init__(self, client: CallClient) -> None:
        self._client = client
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self.correlations: list[bytes] = []
        #: Wall time of the latest sign that an agent holds the call (ack, report, progress).
        self.heard_at = time.time()
        #: Agents whose ``CallsHeld`` reports listed the call.
        self.held_by: set[str] = set()

    def push(self, event: Event) -> None:
        self._queue.put_nowait(event)

    def pending(self) -> bool:
        """True if events are waiting to be read."""
        return not self._queue.empty()

    def forget(self) -> None:
        """Drop every send so far: their late replies (a moved call's) are ignored."""
        for key in self.correlations:
            self._client._waiters.pop(key, None)
        self.correlations.clear()
        self.held_by.clear()

    async def next(self, timeout: float) -> Event | None:
        """The next event, or None after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                return await self._queue.get()
        except TimeoutError:
            return None

    def close(self) -> None:
        self._client._close(self)


#: Seconds after which an agent not heard from leaves ``CallClient.heard``.
HEARD_KEPT_S = 3600.0
#: ``heard`` is swept for silent agents once it holds this many (and then twice as many).
_HEARD_SWEEP_MIN = 64


class CallClient:
    """Routes the replies of remote calls on one bus to their waiters."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.reply_topic = bus.topics.replies(bus.client_id)
        self._waiters: dict[bytes, Waiter] = {}
        self._open: set[Waiter] = set()
        self._counter = itertools.count()
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self.epoch = bus.reconnects
        """The bus's ``reconnects`` when open calls were last told about a reconnect."""
        self.troubled_at: float | None = None
        """Wall time at which a disconnect or reconnect was last noticed."""
        self.heard: dict[str, float] = {}
        """Agent id -> wall time its latest reply (ack, result, held report) arrived;
        agents silent for ``HEARD_KEPT_S`` are forgotten (``_note_heard``)."""
        self._heard_sweep_at = _HEARD_SWEEP_MIN
        self.outstanding: dict[str, int] = {}
        """Agent id -> calls sent to it and not finished or moved (``RemoteAction``)."""
        self._flush: asyncio.Task[None] | None = None
        self._flush_started = 0.0

    @classmethod
    def for_bus(cls, bus: Bus) -> CallClient:
        """The bus's client, created on first use (not yet started)."""
        client = _clients.get(bus)
        if client is None:
            client = _clients[bus] = cls(bus)
        return client

    @staticmethod
    def exists(bus: Bus) -> bool:
        return bus in _clients

    async def start(self) -> None:
        """Subscribe to the reply topic (before any call is sent); idempotent."""
        if self._sub is not None:
            return
        async with self._lock:
            if self._sub is not None:
                return
            self._sub = await self.bus.subscribe(self.reply_topic, qos=1)
            name = self.bus.client_id
            self._tasks = [
                asyncio.create_task(self._read(self._sub), name=f"weft-calls-{name}"),
                asyncio.create_task(self._monitor(), name=f"weft-calls-monitor-{name}"),
            ]

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
        if _clients.get(self.bus) is self:
            del _clients[self.bus]

    def open(self) -> Waiter:
        waiter = Waiter(self)
        self._open.add(waiter)
        return waiter

    def _close(self, waiter: Waiter) -> None:
        self._open.discard(waiter)
        for key in waiter.correlations:
            self._waiters.pop(key, None)

    def correlate(self, waiter: Waiter) -> bytes:
        """New Correlation Data for one send of ``waiter``'s call."""
        key = f"{self.bus.client_id}:c{next(self._counter)}".encode()
        waiter.correlations.append(key)
        self._waiters[key] = waiter
        return key

    def troubled_since(self, since: float) -> bool:
        """True if the bus is down now, or dropped or reconnected at or after ``since``."""
        if not self.bus.connected or self.bus.reconnects != self.epoch:
            return True
        return self.troubled_at is not None and self.troubled_at >= since

    async def ping(self, timeout: float = 10.0) -> None:
        """Round trip a marker through the broker to this client's reply topic.

        Retained messages of filters subscribed before the ping reach their
        subscriptions before the marker does, so a registry knows it has seen
        every retained card once this returns. ``TimeoutError`` after ``timeout``.
        """
        key = f"{self.bus.client_id}:ping{next(self._counter)}".encode()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[key] = future
        try:
            await self.bus.publish(
                self.reply_topic, b"", qos=1, properties=MessageProperties(correlation_data=key)
            )
            async with asyncio.timeout(timeout):
                await future
        finally:
            self._pings.pop(key, None)

    async def flush(self, since: float, timeout: float = 10.0) -> None:
        """Return once every reply that reached this client before ``since`` was dispatched.

        A ping through the broker (``ping``) started at or after ``since``,
        shared by every call that asks at the same time: a caller whose own
        loop is behind must read its inbox before it calls an agent silent.
        Raises ``TimeoutError`` or ``BusError`` when the broker does not answer.
        """
        task = self._flush
        if task is None or self._flush_started < since:
            self._flush_started = time.time()
            task = self._flush = asyncio.get_running_loop().create_task(
                self.ping(timeout), name=f"weft-calls-flush-{self.bus.client_id}"
            )
        await asyncio.shield(task)

    def hold(self, agent: str) -> None:
        """Count a call sent to ``agent`` (for choosing the least busy one)."""
        self.outstanding[agent] = self.outstanding.get(agent, 0) + 1

    def release(self, agent: str) -> None:
        left = self.outstanding.get(agent, 0) - 1
        if left > 0:
            self.outstanding[agent] = left
        else:
            self.outstanding.pop(agent, None)

    async def _read(self, sub: Subscription) -> None:
        async for message in sub:
            try:
                await self._dispatch(message)
            except Exception:  # one bad reply must not stop the others
                log.exception("failed to dispatch a reply on %s", message.topic)

    async def _dispatch(self, message: Message) -> None:
        key = message.properties.correlation_data
        if key is None:
            await publish_dead_letter(
                self.bus,
                message,
                DeadLetterReason.INVALID_MESSAGE,
                "reply without Correlation Data",
                self.bus.client_id,
            )
            return
        ping = self._pings.get(key)
        if ping is not None:
            if not ping.done():
                ping.set_result(None)
            return
        kind = message.properties.user_properties.get(KIND_PROPERTY, KIND_RESULT)
        waiter = self._waiters.get(key)
        if waiter is None and kind != KIND_HELD:  # a report lists other calls too
            return  # a late reply for a call that already ended, or moved on
        model = _REPLY_MODELS.get(kind)
        if model is None:
            return  # a kind of reply from a newer agent: ignored, like unknown fields
        refused = self.bus.refuse(message.payload)  # too large or too deep to decode
        if refused is not None:
            reason, detail = refused
            detail = f"{kind} reply refused: {detail}"
            await publish_dead_letter(self.bus, message, reason, detail, self.bus.client_id)
            return
        try:
            payload = model.model_validate_json(message.payload)
        except ValidationError as exc:
            detail = f"{kind} reply is not a valid {model.__name__}: {validation_problems(exc)}"
            await publish_dead_letter(
                self.bus, message, DeadLetterReason.INVALID_MESSAGE, detail, self.bus.client_id
            )
            if waiter is not None and kind == KIND_RESULT:
                waiter.push((UNREADABLE, detail))  # fails the call now, not at its deadline
            return
        now = time.time()
        if isinstance(payload, CallsHeld):
            self._held(payload, now)
            return
        if waiter is None:
            return
        agent = getattr(payload, "agent_id", None) or getattr(payload, "agent", None)
        if agent:
            self._note_heard(agent, now)
        if kind != KIND_RESULT:
            waiter.heard_at = now
        elif handed_back(message.properties):
            kind = HANDED_BACK  # marked on the envelope by the host, never by an action
        waiter.push((kind, payload))

    def _note_heard(self, agent: str, now: float) -> None:
        """``heard[agent] = now``, forgetting agents long silent when a new one appears.

        Agent ids are new with each process (``weft agent serve`` without
        ``--agent-id``), so a caller that lives through many restarts and
        scale-ups would keep one entry per process it ever heard. A silent
        holder is judged gone within seconds, so an hour-old entry decides
        nothing. The sweep runs when the table has doubled since the last one.
        """
        heard = self.heard
        if agent not in heard and len(heard) >= self._heard_sweep_at:
            cutoff = now - HEARD_KEPT_S
            for old in [name for name, at in heard.items() if at < cutoff]:
                del heard[old]
            self._heard_sweep_at = max(_HEARD_SWEEP_MIN, 2 * len(heard))
        heard[agent] = now

    def _held(self, report: CallsHeld, now: float) -> None:
        """Note a ``CallsHeld``: its agent is alive, and so is each listed call there."""
        agent = report.agent_id
        self._note_heard(agent, now)
        for held in report.calls:
            try:
                key = bytes.fromhex(held.correlation)
            except ValueError:
                continue
            waiter = self._waiters.get(key)
            if waiter is None:
                continue  # a call that ended or moved on
            waiter.heard_at = now
            if agent not in waiter.held_by:
                waiter.held_by.add(agent)
                waiter.push((KIND_HELD, agent))

    async def _monitor(self) -> None:
        """Note every disconnect and reconnect; tell every open call about a reconnect."""
        while True:
            await self.bus.connection_changed()
            self.troubled_at = time.time()
            reconnects = self.bus.reconnects
            if self.bus.connected and reconnects != self.epoch:
                self.epoch = reconnects
                for waiter in list(self._open):
                    waiter.push(("reconnected", None))
