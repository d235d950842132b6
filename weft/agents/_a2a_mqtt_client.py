"""aiomqtt's client, plus the PUBACK reason code that aiomqtt 2.x drops.

A2A over MQTT sends each request at QoS 1. Under MQTT v5 a broker that
refuses a publish says so in the PUBACK's reason code (0x87 "Not
authorized" from an ACL; Mosquitto 2 sends it, paho 2 passes it to
``on_publish``), but aiomqtt 2.x's ``publish`` ignores it and returns as if
the message was delivered: the requester would then wait for a reply that
never comes, until its deadline. ``AckingClient.send`` publishes and hands
back a future that the PUBACK resolves with its reason code.

This reaches into two private parts of aiomqtt (read in its 2.5.1 source):
the paho client it keeps as ``_client`` and the ``_on_publish`` callback it
registers there (a bound method, so a subclass's override is the one paho
calls). The ``a2a`` extra pins ``aiomqtt>=2.3,<3``;
``tests/security/test_a2a_mqtt_security.py`` fails if a version stops
reporting the refusal. Imported only when a link opens (aiomqtt is optional).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["AckingClient"]


class AckingClient(aiomqtt.Client):
    """An ``aiomqtt.Client`` whose ``send`` reports the broker's PUBACK reason code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acks: dict[int, asyncio.Future[ReasonCode]] = {}

    def send(
        self, topic: str, payload: bytes, *, retain: bool, properties: Properties
    ) -> asyncio.Future[ReasonCode]:
        """Publish at QoS 1; the future resolves with the PUBACK's reason code.

        Raises ``ConnectionError`` when paho cannot queue the message (the
        connection is gone). The future is never failed: a caller also waits
        for the connection's loss (``A2aMqttLink.lost``) and cancels it then.
        """
        info = self._client.publish(topic, payload, 1, retain, properties)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"could not publish to {topic!r}: {paho.error_string(info.rc)}")
        # The PUBACK is read by the loop's reader callback, so it cannot come before this.
        waiter: asyncio.Future[ReasonCode] = asyncio.get_running_loop().create_future()
        mid = info.mid
        self._acks[mid] = waiter

        def forget(done: asyncio.Future[ReasonCode]) -> None:  # e.g. the caller gave up
            if self._acks.get(mid) is done:
                del self._acks[mid]

        waiter.add_done_callback(forget)
        return waiter

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        waiter = self._acks.pop(mid, None)
        if waiter is None:  # one of aiomqtt's own publishes
            super()._on_publish(client, userdata, mid, reason_code, properties)
        elif not waiter.done():
            waiter.set_result(reason_code)
