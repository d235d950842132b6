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

``refusal`` reads why a connect failed from what aiomqtt raised: the
CONNACK's reason code (``MqttConnectError.rc``, a paho ``ReasonCode`` under
MQTT v5) or the ``ssl`` error aiomqtt re-raised as a plain ``MqttError``
(kept as its ``__context__``); the words are ``weft.protocols.mqtt_refusal``'s,
the bus's own. A broker that drops the socket before its CONNACK (TLS 1.3
refusing the client certificate) fails the connect at once, as the bus's
does, instead of after the connect timeout: aiomqtt 2.x ignores a
disconnect before the CONNACK, so ``_on_disconnect`` (also a bound method
paho calls) is overridden too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from weft.protocols.errors import PublishRefusedError
from weft.protocols.mqtt_refusal import (
    CLOSED_BEFORE_CONNACK,
    closed_before_connack,
    connack_refusal,
    tls_refusal,
)

__all__ = ["AckingClient", "refusal"]


def refusal(error: BaseException, username: str | None) -> str | None:
    """Why the broker refused this client, when ``error`` (raised by ``__aenter__``) says
    it did: its login (CONNACK reason code) or TLS; ``None`` for anything that may pass."""
    if isinstance(error, MqttConnectError):
        code = error.rc
        if isinstance(code, ReasonCode):
            return connack_refusal(code.value, username)
        if isinstance(code, int):  # an MQTT 3.1.1 CONNACK return code
            return connack_refusal(code, username, v311=True)
    return tls_refusal(error)


class AckingClient(aiomqtt.Client):
    """An ``aiomqtt.Client`` whose ``send`` reports the broker's PUBACK reason code."""

    def __init__(self, *args: Any, tls: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acks: dict[int, asyncio.Future[ReasonCode]] = {}
        self._tls = tls

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

    async def publish_acked(
        self,
        topic: str,
        payload: bytes,
        *,
        properties: Properties,
        broker: str,
        lost: asyncio.Event,
        retain: bool = False,
    ) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK (``send``), or for ``lost``.

        ``PublishRefusedError`` (naming ``broker``, the URL without password, and
        ``topic``) when the reason code says the broker refused the message
        (0x87 from its ACL): not retryable. ``ConnectionError`` when ``lost`` is
        set first (the caller's reader saw the connection end) or paho cannot
        queue the message.
        """
        acked = self.send(topic, payload, retain=retain, properties=properties)
        gone = asyncio.ensure_future(lost.wait())
        waits: set[asyncio.Future[Any]] = {acked, gone}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            acked.cancel()  # nothing if done; else forgotten (``send``)
        if not acked.done() or acked.cancelled():
            raise ConnectionError(f"lost the broker {broker} before it acknowledged {topic!r}")
        reason = acked.result()
        if reason.is_failure:
            raise PublishRefusedError(broker, topic, str(reason))

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        if not self._connected.done():  # closed before its CONNACK: fail the connect now
            why = f"{CLOSED_BEFORE_CONNACK} ({closed_before_connack(self._tls)})"
            self._connected.set_exception(aiomqtt.MqttError(why))
            return
        super()._on_disconnect(client, userdata, flags, reason_code, properties)

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
