"""One connection of the MQTT bus: the configured aiomqtt client and its acknowledgements.

Kept apart from ``mqtt_bus`` (subscriptions, routing, reconnects): this is
what one connection needs from aiomqtt and paho, including where weft steps
around them (publish acknowledgements with their reason codes, messages
routed in paho's read callback, a connect that fails as soon as the broker
drops the socket). No state outlives a connection: a reconnect builds a new
client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt import ProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from weft.protocols import Message
from weft.runtime.bus.mqtt._wire import BrokerAddress, to_paho

TCP_NODELAY_OPTION = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
CONNECTION_LOST_CODES = {paho.MQTT_ERR_NO_CONN, paho.MQTT_ERR_CONN_LOST}
CLOSED_BEFORE_CONNACK = "the broker closed the connection before accepting it"


class ConnectionLostError(Exception):
    """Internal: the connection an operation ran on went away; retry on the next one."""


@dataclass(slots=True)
class Connection:
    """One MQTT connection and the publishes waiting for their acknowledgement on it.

    ``acks`` maps a packet id to the future that its PUBACK (QoS 0: the
    write) resolves with the broker's reason code; an acknowledgement nobody
    waits for any more (the publisher was cancelled) is dropped.
    ``mark_lost()`` fails every waiting publish so that it is sent again on
    the next connection.
    """

    client: aiomqtt.Client
    generation: int
    lost: asyncio.Future[None]
    acks: dict[int, asyncio.Future[ReasonCode]] = field(default_factory=dict)

    def acknowledged(self, mid: int, reason: ReasonCode) -> None:
        waiter = self.acks.pop(mid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(reason)

    def mark_lost(self) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        waiting, self.acks = self.acks, {}
        for waiter in waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionLostError())


def make_client(
    address: BrokerAddress,
    client_id: str,
    *,
    keepalive: int,
    connect_timeout: float,
    will: Message | None,
    on_ack: Callable[[int, ReasonCode], None],
    on_message: Callable[[paho.MQTTMessage], None],
    logger: logging.Logger,
) -> aiomqtt.Client:
    """An aiomqtt client for ``address``: MQTT v5, clean start, TCP_NODELAY, TLS if asked.

    ``on_ack(mid, reason)`` gets every publish acknowledgement and
    ``on_message(raw)`` every incoming message, both called in paho's
    callbacks on the event loop (they must not block). Must be called with
    an event loop running.
    """
    tls_params = None
    if address.tls:
        tls_params = aiomqtt.TLSParameters(
            ca_certs=address.ca_file,
            certfile=address.cert_file,
            keyfile=address.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    mqtt_will = None
    if will is not None:
        mqtt_will = aiomqtt.Will(
            topic=will.topic,
            payload=will.payload,
            qos=will.qos,
            retain=will.retain,
            properties=to_paho(will.properties, PacketTypes.WILLMESSAGE),
        )
    client = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=client_id,
        protocol=ProtocolVersion.V5,
        clean_start=True,
        keepalive=keepalive,
        timeout=connect_timeout,
        tls_params=tls_params,
        tls_insecure=address.tls_insecure if address.tls else None,
        socket_options=[TCP_NODELAY_OPTION],
        will=mqtt_will,
        logger=logger,
    )
    # Many concurrent QoS 1 publishes are normal for weft; aiomqtt would
    # log a warning for every call beyond 10 in flight.
    client.pending_calls_threshold = 1_000_000
    # An exception in a paho callback must not tear down the connection.
    client._client.suppress_exceptions = True
    client._client.connect_timeout = connect_timeout

    def on_publish(
        _client: paho.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        on_ack(mid, reason)

    def on_paho_message(_client: paho.Client, _userdata: Any, raw: paho.MQTTMessage) -> None:
        on_message(raw)

    # Publishes go through paho directly (MqttBus._publish); aiomqtt's own
    # handler would discard the reason code.
    client._client.on_publish = on_publish
    # Incoming messages are routed right in paho's read callback, in arrival
    # order, instead of through aiomqtt's queue, whose iterator costs a task
    # and an asyncio.wait per message.
    client._client.on_message = on_paho_message
    _fail_fast_on_early_close(client)
    return client


def connect_hint(reason: str, *, tls: bool, timeout: float) -> str:
    """What to check when a connect failed for ``reason`` (empty if nothing useful)."""
    if "refused" in reason.lower():
        return " (is it running? weft.runtime.bus.mqtt.broker can start a local Mosquitto)"
    if reason == CLOSED_BEFORE_CONNACK and tls:
        return (
            " (does it require a client certificate, and trust this one? paho's log "
            "line 'failed to receive on socket' names the TLS error)"
        )
    if reason == CLOSED_BEFORE_CONNACK:
        return " (is this a TLS listener? then use mqtts://)"
    if "timed out" in reason.lower():
        return (
            f" (no CONNACK within {timeout:g}s: is it an MQTT broker, "
            "and does it accept this client's credentials and TLS certificate?)"
        )
    return ""


def _fail_fast_on_early_close(client: aiomqtt.Client) -> None:
    """End a connect at once when the broker drops the socket before its CONNACK.

    That is how a TLS broker rejects a missing or untrusted client
    certificate under TLS 1.3 (the alert comes after the client's handshake
    finished); aiomqtt would wait out the whole connect timeout. Relies on
    aiomqtt's private ``_connected`` future and checks that it is there.
    """
    loop = asyncio.get_running_loop()
    original = client._client.on_disconnect

    def fail() -> None:
        connected = getattr(client, "_connected", None)
        if isinstance(connected, asyncio.Future) and not connected.done():
            connected.set_exception(aiomqtt.MqttError(CLOSED_BEFORE_CONNACK))

    def on_disconnect(*args: Any) -> None:
        loop.call_soon_threadsafe(fail)  # paho may call this from aiomqtt's connect thread
        if original is not None:
            original(*args)

    client._client.on_disconnect = on_disconnect


def drop_late(entered: asyncio.Future[Any], client: aiomqtt.Client) -> None:
    """Disconnect a client whose connect finished after nobody wanted it any more."""
    if not entered.cancelled() and entered.exception() is None:
        abandon(client)


def abandon(client: aiomqtt.Client) -> None:
    """Close what a failed connect left open (aiomqtt keeps the socket on a CONNACK timeout)."""
    with contextlib.suppress(Exception):
        client._client.disconnect()
