"""The MQTT v5 bus: weft's ``Bus`` over any MQTT v5 broker, through paho-mqtt.

What a caller can rely on (the same as ``InProcessBus``, see the conformance
suite in ``tests/conformance``):

- Every ``Subscription`` gets each matching message exactly once, also when
  several filters of this client match it. Each filter is subscribed with its
  own MQTT v5 Subscription Identifier and incoming messages are routed by the
  identifiers the broker attaches (Mosquitto sends one copy per matching
  subscription, other brokers one copy listing every identifier; both work).
  Messages that carry no identifier are matched locally with
  ``topic_matches``; the broker must support subscription identifiers
  (Mosquitto, EMQX, HiveMQ and VerneMQ do).
- Retained messages reach a subscription when it is created (also the second
  subscription of one filter on this client), and every live subscription
  again after a reconnect, so subscribers always converge on the retained
  state.
- Order per topic is kept: one connection, messages routed in arrival order
  in paho's read callback.

Connection handling: the first connect fails fast with a ``BusError`` that
names the URL. After that, a lost connection is re-established with
exponential backoff (clean session) and every live subscription is
re-subscribed before the bus counts as connected again (also one made
meanwhile, which waits for the reconnect rather than subscribing again on
its own, with an identifier the reconnect replaced); the change is
signalled through ``Bus.connection_changed`` and counted in
``Bus.reconnects``. ``publish`` and ``subscribe`` wait up to
``reconnect_timeout`` seconds for the connection and then raise
``BusError``; a QoS 1 publish interrupted by a disconnect is sent again on
the new connection (at least once: calls are idempotent by ``(call_id,
attempt)``). Messages published by others while this client was offline are
not delivered to it (clean sessions; brokers restarted without persistence
lose them anyway).

Latency: the client socket gets ``TCP_NODELAY`` as soon as paho opens it
(see ``_connection``). Without it, and without ``set_tcp_nodelay true`` on
the broker (see ``weft.runtime.bus.mqtt.broker``), a QoS 1 round trip takes
tens of milliseconds instead of well under one.

The transport is paho-mqtt 2.x on the asyncio loop (``_connection`` says
why not aiomqtt): publishes wait on a future per packet id that the PUBACK
resolves with its reason code, and incoming messages are routed inside
paho's read callback, with no task or queue per message in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from dataclasses import dataclass, field

import paho.mqtt.client as paho

from weft.protocols import BusError, Message, PublishRefusedError, topic_matches
from weft.runtime.bus.base import DEFAULT_MAX_PAYLOAD, Bus, Subscription
from weft.runtime.bus.mqtt._connection import (
    BrokerRefusedError,
    Connection,
    ConnectionLostError,
    open_connection,
)
from weft.runtime.bus.mqtt._wire import BrokerAddress, parse_broker_url, subscription_ids, to_paho
from weft.runtime.bus.mqtt._wire import from_paho as _from_paho
from weft.runtime.bus.payload_limits import DEFAULT_MAX_JSON_DEPTH

__all__ = ["BrokerAddress", "MqttBus", "parse_broker_url"]

log = logging.getLogger(__name__)

_MAX_SUBSCRIPTION_ID = 268_435_455  # MQTT 5 §3.8.2.1.2
#: Subscription identifiers remembered after ``MqttBus._prune_ids`` forgot them.
_RETIRED_IDS_KEPT = 64


class _MqttSubscription(Subscription):
    """A ``Subscription`` that remembers which SUBSCRIBE brought its retained messages."""

    retained_id: int = 0


@dataclass(slots=True)
class _Filter:
    """One topic filter subscribed at the broker and the local subscriptions behind it."""

    pattern: str
    qos: int
    members: list[_MqttSubscription] = field(default_factory=list)
    ids: set[int] = field(default_factory=set)
    generation: int = -1  # connection generation this filter was last subscribed on
    cursor: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def shared(self) -> bool:
        return self.pattern.startswith("$share/")


class MqttBus(Bus):
    """``Bus`` over an MQTT v5 broker (Mosquitto, EMQX, HiveMQ...).

    ``url`` is ``mqtt://[user:pass@]host:port`` or ``mqtts://...``; keyword
    arguments override what the URL says. ``client_id`` is also the MQTT
    client identifier, so it must be unique on the broker (a second client
    with the same id disconnects the first). ``will`` is published by the
    broker if this client vanishes without disconnecting (agents use an empty
    retained will on their card topic).

    Raises ``BusError`` from ``start()`` when the broker cannot be reached or
    refuses the connection (credentials, TLS certificate), from
    ``publish``/``subscribe`` when the connection stays down longer than
    ``reconnect_timeout`` seconds, and when the broker refuses a subscription
    (SUBACK failure); ``PublishRefusedError`` (a ``BusError``) when it refuses
    a publish (PUBACK reason code >= 0x80, e.g. 0x87 not authorized by an ACL).
    """

    def __init__(
        self,
        url: str = "mqtt://127.0.0.1:1883",
        *,
        namespace: str = "default",
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        tls_insecure: bool | None = None,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        keepalive: int = 30,
        connect_timeout: float = 5.0,
        reconnect_timeout: float = 10.0,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
        will: Message | None = None,
    ) -> None:
        super().__init__(
            namespace=namespace,
            client_id=client_id,
            max_payload=max_payload,
            max_json_depth=max_json_depth,
        )
        parsed = parse_broker_url(url)
        self.address = BrokerAddress(
            host=parsed.host,
            port=parsed.port,
            tls=parsed.tls or any(x is not None for x in (ca_file, cert_file, key_file)),
            username=username if username is not None else parsed.username,
            password=password if password is not None else parsed.password,
            ca_file=ca_file if ca_file is not None else parsed.ca_file,
            cert_file=cert_file if cert_file is not None else parsed.cert_file,
            key_file=key_file if key_file is not None else parsed.key_file,
            tls_insecure=tls_insecure if tls_insecure is not None else parsed.tls_insecure,
        )
        self.url = self.address.redacted()
        self.keepalive = keepalive
        self.connect_timeout = connect_timeout
        self.reconnect_timeout = reconnect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.will = will
        self.dropped_messages = 0
        """Incoming messages that could not be converted and were dropped (logged)."""
        self._filters: dict[str, _Filter] = {}
        self._by_id: dict[int, _Filter] = {}
        #: Identifiers ``_prune_ids`` forgot, oldest first, for messages already on the way.
        self._retired_ids: dict[int, _Filter] = {}
        self._next_id = itertools.count(1)
        self._conn: Connection | None = None
        self._generation = itertools.count()
        self._supervisor: asyncio.Task[None] | None = None
        #: The refusal the log last said keeps the connection down: said again only
        #: when it changes, or after the connection came back and was lost (``_supervise``).
        self._trouble: str | None = None

    @property
    def tcp_nodelay(self) -> bool | None:
        """Whether the live client socket has TCP_NODELAY set (None when disconnected).

        Reads the option back from the socket, so it checks what the kernel
        uses, not what weft asked for.
        """
        conn = self._conn
        return conn.tcp_nodelay if conn is not None else None

    # -- transport primitives ---------------------------------------------------

    async def _start(self) -> None:
        conn = await self._connect()
        self._conn = conn
        self._connection_up()
        self._supervisor = asyncio.create_task(
            self._supervise(conn), name=f"weft-mqtt-{self.client_id}"
        )

    async def _stop(self) -> None:
        for entry in list(self._filters.values()):
            for sub in list(entry.members):
                await sub.close()
        self._filters.clear()
        self._by_id.clear()
        self._retired_ids.clear()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close(self.connect_timeout)

    async def _publish(self, message: Message) -> None:
        """Hand the message to paho and wait for the broker's acknowledgement.

        The PUBACK's reason code decides: a publish the broker refused (MQTT
        5: 0x87 not authorized, by an ACL) raises instead of looking
        delivered. A publish cut off by a lost connection is sent again on
        the next one, until ``reconnect_timeout``.
        """
        properties = to_paho(message.properties)
        deadline: float | None = None
        conn = self._conn
        while True:
            if conn is None or conn.lost.done() or not self.connected:
                if deadline is None:
                    deadline = asyncio.get_running_loop().time() + self.reconnect_timeout
                conn = await self._connection(deadline, f"publish to {message.topic!r}")
            try:
                reason = await conn.publish(message, properties)
            except ConnectionLostError:
                if deadline is None:
                    deadline = asyncio.get_running_loop().time() + self.reconnect_timeout
                await self._until_lost(conn, deadline)
                conn = None
                continue
            if reason.is_failure:
                raise PublishRefusedError(self.url, message.topic, str(reason))
            return

    async def _subscribe(self, pattern: str, qos: int) -> Subscription:
        sub = _MqttSubscription(pattern, self._unsubscribe)
        entry = self._filters.get(pattern)
        if entry is None:
            entry = self._filters[pattern] = _Filter(pattern, qos)
        entry.qos = max(entry.qos, qos)
        entry.members.append(sub)
        if entry.shared and len(entry.members) > 1 and entry.generation >= 0:
            # Another local member of a group already subscribed: the broker
            # sends no retained messages to shared subscriptions, so there is
            # nothing to fetch; share the group's messages locally.
            sub.retained_id = max(entry.ids)
            return sub
        sub_id = self._register_id(entry)
        sub.retained_id = sub_id
        deadline = asyncio.get_running_loop().time() + self.reconnect_timeout
        what = f"subscribe to {pattern!r}"
        try:
            conn = await self._connection(deadline, what)
            # A reconnect while we waited may have subscribed the filter already
            # (``_resubscribe``), under a new identifier, forgetting ``sub_id``: a SUBSCRIBE
            # with ``sub_id`` now would make the broker tag the filter's messages with an
            # identifier that routes nowhere (``_route``), as long as the connection lasts.
            if sub_id in entry.ids:
                try:
                    await self._subscribe_on(conn, entry, sub_id)
                except ConnectionLostError:
                    # The reconnect re-subscribes every registered filter, this one
                    # too, before it reports connected.
                    await self._until_lost(conn, deadline)
                    await self._connection(deadline, what)
        except BaseException:  # refused, timed out, or cancelled while waiting: no member
            await self._forget(sub)
            raise
        self._prune_ids(entry)
        return sub

    # -- subscriptions ----------------------------------------------------------

    def _register_id(self, entry: _Filter) -> int:
        sub_id = next(self._next_id)
        if sub_id > _MAX_SUBSCRIPTION_ID:  # after 268 million subscribes: start over
            self._next_id = itertools.count(1)
            sub_id = next(self._next_id)
        entry.ids.add(sub_id)
        self._by_id[sub_id] = entry
        return sub_id

    async def _subscribe_on(self, conn: Connection, entry: _Filter, sub_id: int) -> None:
        """SUBSCRIBE ``entry`` with identifier ``sub_id``.

        Raises ``ConnectionLostError`` on a loss, ``BusError`` on a refusal
        or when no SUBACK comes within ``connect_timeout``.
        """
        try:
            codes = await conn.subscribe(entry.pattern, entry.qos, sub_id, self.connect_timeout)
        except TimeoutError:
            raise BusError(
                f"subscribe to {entry.pattern!r} on {self.url} failed: "
                f"no SUBACK within {self.connect_timeout:g}s"
            ) from None
        for code in codes:
            if code.is_failure:
                raise BusError(f"broker {self.url} refused subscription {entry.pattern!r}: {code}")
        entry.generation = conn.generation

    async def _forget(self, sub: Subscription) -> None:
        """Drop a subscription that never came to be, without telling the broker."""
        entry = self._filters.get(sub.pattern)
        if entry is not None and sub in entry.members:
            entry.members.remove(sub)
            if not entry.members:
                self._drop_filter(entry)
            else:
                self._prune_ids(entry)
        sub.closed = True

    def _prune_ids(self, entry: _Filter) -> None:
        """Forget the identifiers of ``entry`` that no member holds, all but the newest.

        Each SUBSCRIBE of a live filter gets a new identifier, so that its
        retained messages go to the member that asked; the broker tags later
        messages with the newest one. An older identifier is needed only for
        its member's retained messages, so it goes with that member. The last
        ``_RETIRED_IDS_KEPT`` forgotten ones still route a late live message
        to the filter (``_route``); a retained one has no target left. Without
        this, a process that keeps a subscription to a filter and subscribes
        to it again and again kept one identifier per subscribe.
        """
        newest = max(entry.ids, default=0)
        held = {member.retained_id for member in entry.members}
        for sub_id in [i for i in entry.ids if i != newest and i not in held]:
            entry.ids.discard(sub_id)
            if self._by_id.get(sub_id) is entry:
                del self._by_id[sub_id]
                self._retired_ids[sub_id] = entry
        while len(self._retired_ids) > _RETIRED_IDS_KEPT:
            del self._retired_ids[next(iter(self._retired_ids))]

    def _drop_filter(self, entry: _Filter) -> None:
        if self._filters.get(entry.pattern) is entry:
            del self._filters[entry.pattern]
        for sub_id in entry.ids:
            if self._by_id.get(sub_id) is entry:
                del self._by_id[sub_id]

    async def _unsubscribe(self, sub: Subscription) -> None:
        entry = self._filters.get(sub.pattern)
        if entry is None or sub not in entry.members:
            return
        entry.members.remove(sub)
        if entry.members:
            self._prune_ids(entry)
            return
        self._drop_filter(entry)
        conn = self._conn
        if not self._started or conn is None or not self.connected:
            return  # a new connection starts clean, so the filter is gone there anyway
        # Best effort: failing to unsubscribe only costs messages we now ignore.
        with contextlib.suppress(BusError, TimeoutError):
            await conn.unsubscribe(entry.pattern, self.connect_timeout)

    # -- connection -------------------------------------------------------------

    async def _connect(self) -> Connection:
        """Open one connection; ``BusError`` naming the URL when that fails."""
        return await open_connection(
            self.address,
            self.client_id,
            generation=next(self._generation),
            keepalive=self.keepalive,
            connect_timeout=self.connect_timeout,
            will=self.will,
            on_message=self._route,
        )

    async def _supervise(self, conn: Connection) -> None:
        """Wait until the connection drops, then reconnect; runs until close.

        What keeps repeating is said once per change, not once per retry: a
        broker that refuses the login (a revoked password, a banned client)
        is retried for ever, since the login may be restored, with its
        refusal logged when it starts or changes (each lost connection is
        one line already); the other failures of an attempt (the broker
        still down) are debug lines.
        """
        while True:
            await asyncio.shield(conn.lost)  # shielded: cancelling us must not mark it lost
            self._connection_down()
            await conn.close(self.connect_timeout)
            self._trouble = None  # a refusal from here on is news, and said again
            log.warning("lost connection to MQTT broker %s; reconnecting", self.url)
            conn = await self._reconnect()
            self._conn = conn
            self._connection_up()
            log.info("reconnected to MQTT broker %s", self.url)

    async def _reconnect(self) -> Connection:
        delay = self.backoff_initial
        while True:
            try:
                conn = await self._connect()
            except BrokerRefusedError as exc:  # the login or certificate: may be restored
                if exc.why != self._trouble:
                    self._trouble = exc.why
                    log.warning(
                        "%s; retrying every %gs or less until it accepts it again",
                        exc,
                        self.backoff_max,
                    )
                else:
                    log.debug("reconnect to %s refused again: %s", self.url, exc.why)
            except BusError as exc:
                log.debug("reconnect to %s failed: %s", self.url, exc)
            else:
                try:
                    await self._resubscribe(conn)
                    return conn
                except BusError as exc:  # ConnectionLostError included
                    log.warning("re-subscribing on %s failed: %s", self.url, exc)
                    await conn.close(self.connect_timeout)
                except BaseException:  # cancelled by close(): disconnect cleanly, no Will
                    await conn.close(self.connect_timeout)
                    raise
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.backoff_max)

    async def _resubscribe(self, conn: Connection) -> None:
        """Subscribe every live filter on a fresh connection, each with a new identifier.

        Loops until no filter is missing, so a ``subscribe`` that registered a
        filter while this ran is covered before the bus reports connected.
        The new identifier makes the retained messages the broker now sends
        go to every member of the filter.
        """
        while True:
            pending = [e for e in self._filters.values() if e.generation != conn.generation]
            if not pending:
                return
            for entry in pending:
                # A fresh connection starts clean: the old identifiers tag nothing more.
                for old_id in entry.ids:
                    if self._by_id.get(old_id) is entry:
                        del self._by_id[old_id]
                entry.ids.clear()
                sub_id = self._register_id(entry)
                for sub in entry.members:
                    sub.retained_id = sub_id
                await self._subscribe_on(conn, entry, sub_id)

    async def _connection(self, deadline: float, what: str) -> Connection:
        """The live connection, waiting for a reconnect until ``deadline``."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._started:
                raise BusError(f"cannot {what}: the bus is closing")
            conn = self._conn
            if self.connected and conn is not None and not conn.lost.done():
                return conn
            try:
                async with asyncio.timeout(max(deadline - loop.time(), 0)):
                    await self.connection_changed()
            except TimeoutError:
                raise BusError(
                    f"cannot {what}: not connected to MQTT broker {self.url} "
                    f"for {self.reconnect_timeout:g}s"
                ) from None

    async def _until_lost(self, conn: Connection, deadline: float) -> None:
        """Wait until the connection counts as lost after paho reported it gone."""
        remaining = max(deadline - asyncio.get_running_loop().time(), 0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):
                await asyncio.shield(conn.lost)

    # -- routing ----------------------------------------------------------------

    def _route(self, raw: paho.MQTTMessage) -> None:
        """Deliver one incoming message to the subscriptions it belongs to.

        Never raises: a message that cannot be converted is logged, counted in
        ``dropped_messages`` and skipped, so one bad message cannot stop the
        message loop.
        """
        try:
            message = _from_paho(raw)
            ids = subscription_ids(raw.properties)
        except Exception:
            self.dropped_messages += 1
            log.warning("dropped an undecodable message on %s", _topic_of(raw), exc_info=True)
            return
        if ids:
            entries: list[_Filter] = []
            for sub_id in ids:
                entry = self._by_id.get(sub_id) or self._retired_ids.get(sub_id)
                if entry is not None and entry not in entries:
                    entries.append(entry)
        else:
            entries = [e for e in self._filters.values() if topic_matches(e.pattern, message.topic)]
        for entry in entries:
            members = entry.members
            if not members:
                continue
            if message.retain and entry.shared:
                continue  # MQTT 4.8.2: shared subscriptions get no retained messages
            if message.retain:
                targets = [s for s in members if not ids or s.retained_id in ids]
            elif entry.shared:
                targets = [members[next(entry.cursor) % len(members)]]
            else:
                targets = list(members)
            for sub in targets:
                sub.deliver(message)


def _topic_of(raw: paho.MQTTMessage) -> str:
    """The topic for a log line, also when it is not valid UTF-8."""
    try:
        return raw.topic
    except UnicodeDecodeError:
        return "a topic that is not valid UTF-8"
