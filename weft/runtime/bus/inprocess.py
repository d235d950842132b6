"""The in-process bus: the embedded default, no broker needed.

It honours the same semantics as MQTT so code tested here behaves the same
over a broker: ``+``/``#`` wildcards, ``$share/group/filter`` subscriptions
that deliver each message to one member of the group (round robin), retained
messages (an empty retained payload clears the topic; a retained message with
a Message Expiry is replayed with what is left of it, and dropped once it has
expired, as MQTT 5 brokers do), and per-topic order.
Several ``InProcessBus`` instances may share one ``InProcessBroker`` to mimic
several clients on one broker, and ``InProcessBroker.restart()`` mimics a
broker restart, so what reacts to reconnects is testable without a broker.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable

from weft.protocols import Message, topic_matches
from weft.runtime.bus.base import DEFAULT_MAX_PAYLOAD, Bus, Subscription
from weft.runtime.bus.payload_limits import DEFAULT_MAX_JSON_DEPTH


class InProcessBroker:
    """Routing state shared by the buses of one process (or one test)."""

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []
        self.retained: dict[str, Message] = {}
        self._retained_at: dict[str, float] = {}  # monotonic time each was stored
        self._share_cursor: dict[str, itertools.count[int]] = defaultdict(itertools.count)
        self._clients: list[Callable[[], None]] = []

    def restart(self) -> None:
        """Behave like a broker restarted without persistence, for tests.

        Retained messages are forgotten, and every connected bus loses its
        connection and gets it back at once: its ``reconnects`` grows by one
        and its ``connection_changed`` waiters wake.

        Subscriptions survive, as they do for ``MqttBus``, which re-subscribes
        before it reports the reconnect.
        """
        self.retained.clear()
        self._retained_at.clear()
        for reconnect in list(self._clients):
            reconnect()

    def attach(self, on_restart: Callable[[], None]) -> None:
        """Register a bus's restart handler (``restart`` calls it)."""
        self._clients.append(on_restart)

    def detach(self, on_restart: Callable[[], None]) -> None:
        if on_restart in self._clients:
            self._clients.remove(on_restart)

    def route(self, message: Message) -> None:
        if message.retain:
            if message.payload:
                self.retained[message.topic] = message
                self._retained_at[message.topic] = time.monotonic()
            else:
                self.retained.pop(message.topic, None)
                self._retained_at.pop(message.topic, None)
        delivered = message.model_copy(update={"retain": False}) if message.retain else message
        groups: dict[str, list[Subscription]] = {}
        for sub in self.subscriptions:
            if not topic_matches(sub.pattern, message.topic):
                continue
            if sub.pattern.startswith("$share/"):
                group = sub.pattern.split("/", 2)[1] + "|" + sub.pattern.split("/", 2)[2]
                groups.setdefault(group, []).append(sub)
            else:
                sub.deliver(delivered)
        for group, members in groups.items():
            chosen = members[next(self._share_cursor[group]) % len(members)]
            chosen.deliver(delivered)

    def add(self, sub: Subscription) -> None:
        self.subscriptions.append(sub)
        if not sub.pattern.startswith("$share/"):
            for topic in [t for t in self.retained if topic_matches(sub.pattern, t)]:
                replay = self._replay(topic)
                if replay is not None:
                    sub.deliver(replay)

    def _replay(self, topic: str) -> Message | None:
        """The retained message of ``topic`` with its expiry counted down (MQTT 5 §3.3.2.3.3).

        Counted in whole seconds, as Mosquitto does; an expired message is dropped.
        """
        message = self.retained[topic]
        expiry = message.properties.message_expiry
        if expiry is None:
            return message
        left = expiry - int(time.monotonic() - self._retained_at[topic])
        if left <= 0:
            del self.retained[topic], self._retained_at[topic]
            return None
        properties = message.properties.model_copy(update={"message_expiry": left})
        return message.model_copy(update={"properties": properties})

    def remove(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            self.subscriptions.remove(sub)


_DEFAULT_BROKER = InProcessBroker()


class InProcessBus(Bus):
    """A ``Bus`` whose broker is a Python object; messages never leave the process."""

    def __init__(
        self,
        broker: InProcessBroker | None = None,
        *,
        namespace: str = "default",
        client_id: str | None = None,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    ) -> None:
        super().__init__(
            namespace=namespace,
            client_id=client_id,
            max_payload=max_payload,
            max_json_depth=max_json_depth,
        )
        self.broker = broker if broker is not None else InProcessBroker()
        self._mine: list[Subscription] = []

    async def _start(self) -> None:
        self.broker.attach(self._restarted)
        self._connection_up()

    async def _stop(self) -> None:
        self.broker.detach(self._restarted)
        for sub in list(self._mine):
            await sub.close()

    def _restarted(self) -> None:
        self._connection_down()
        self._connection_up()

    async def _publish(self, message: Message) -> None:
        self.broker.route(message)

    async def _subscribe(self, pattern: str, qos: int) -> Subscription:
        sub = Subscription(pattern, self._unsubscribe)
        self._mine.append(sub)
        self.broker.add(sub)
        return sub

    async def _unsubscribe(self, sub: Subscription) -> None:
        self.broker.remove(sub)
        if sub in self._mine:
            self._mine.remove(sub)


def shared_broker() -> InProcessBroker:
    """The process-wide broker used when buses should see each other by default."""
    return _DEFAULT_BROKER
