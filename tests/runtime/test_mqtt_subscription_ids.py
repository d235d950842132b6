"""A long-lived MQTT bus keeps a bounded number of subscription identifiers.

Each SUBSCRIBE gets an identifier, so the retained messages it brings go to
the member that asked. A process that keeps one subscription to a filter and
subscribes to it again and again (another registry on the same bus, each
task), or that reconnects many times, once kept one identifier per SUBSCRIBE
for as long as the filter lived.
"""

from __future__ import annotations

import asyncio
import socket
import uuid

from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

WAIT = 10.0
ROUNDS = 40


def identifiers(bus: MqttBus) -> int:
    return len(bus._by_id) + sum(len(entry.ids) for entry in bus._filters.values())


async def test_subscribing_again_and_again_to_a_kept_filter_keeps_few_identifiers(
    mqtt_broker_url: str,
) -> None:
    async with MqttBus(mqtt_broker_url, namespace=f"t-{uuid.uuid4().hex[:12]}") as bus:
        topic = f"{bus.topics.prefix}/ids/{uuid.uuid4().hex}"
        await bus.publish(f"{topic}/card", b"retained", retain=True)
        kept = await bus.subscribe(f"{topic}/+")
        assert (await kept.get(timeout=WAIT)).payload == b"retained"
        for _ in range(ROUNDS):
            async with await bus.subscribe(f"{topic}/+") as again:
                # each newcomer still gets the retained message, and only it does
                assert (await again.get(timeout=WAIT)).payload == b"retained"
        assert identifiers(bus) <= 4
        # the kept member still gets live messages (tagged with the newest identifier)
        await bus.publish(f"{topic}/live", b"live")
        assert (await kept.get(timeout=WAIT)).payload == b"live"
        await bus.publish(f"{topic}/card", b"", retain=True)


async def test_reconnecting_again_and_again_keeps_one_identifier_per_filter(
    weft_broker: MosquittoBroker,
) -> None:
    async with MqttBus(weft_broker.url, backoff_initial=0.01, backoff_max=0.05) as bus:
        topic = f"{bus.topics.prefix}/ids/{uuid.uuid4().hex}"
        sub = await bus.subscribe(topic)
        for round_ in range(1, 11):
            assert bus._conn is not None
            sock = bus._conn.client.socket()
            assert isinstance(sock, socket.socket)
            sock.shutdown(socket.SHUT_RDWR)  # as a crash or a network cut would
            async with asyncio.timeout(WAIT):
                while bus.reconnects < round_ or not bus.connected:
                    await bus.connection_changed()
        assert identifiers(bus) == 2  # the filter's one identifier, and its index entry
        await bus.publish(topic, b"after")
        assert (await sub.get(timeout=WAIT)).payload == b"after"
