"""The wire mapping of the MQTT bus: broker URLs, and weft messages to/from paho.

Kept apart from ``mqtt_bus`` (connection, routing) because it is pure data
mapping: no I/O, easy to test on its own.

Both directions are on the hot path of every call, so they avoid the slow
parts of paho and pydantic (measured in ``bench/bus.py``): outgoing
properties are encoded here, once, instead of through paho's ``Properties``
(whose attribute checks scan its whole table of property names per
assignment and again when packing); incoming messages become weft models
with ``model_construct``, since paho already decoded and typed every field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from weft.protocols import BusError, Message, MessageProperties
from weft.protocols.mqtt_url import MqttTls, split_mqtt_url, tls_options


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """A parsed broker URL: ``mqtt://[user:pass@]host[:port][?ca=&cert=&key=&insecure=1]``.

    ``mqtts://`` turns TLS on (default port 8883, 1883 for ``mqtt://``); the
    options mean what ``weft.protocols.mqtt_url.MqttTls`` says (``ca`` the CA
    bundle that verifies the broker, ``cert``/``key`` a client certificate,
    ``insecure=1`` no host name check).
    """

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False

    def redacted(self) -> str:
        """The URL without its password, safe for error messages and logs."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = (
            f"{self.username}:***@"
            if self.password
            else (f"{self.username}@" if self.username else "")
        )
        return f"{scheme}://{user}{self.host}:{self.port}"

    @property
    def tls_options(self) -> MqttTls:
        """The TLS options, for ``weft.protocols.mqtt_url.tls_context``."""
        return MqttTls(self.ca_file, self.cert_file, self.key_file, self.tls_insecure)


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://`` / ``mqtts://`` URLs; ``BusError`` names what is wrong.

    The options are read by ``weft.protocols.mqtt_url`` (shared with the
    A2A client), so both refuse a bad URL with the same words.
    """
    try:
        parts = split_mqtt_url(url)
        tls = tls_options(parts, url)
    except ValueError as exc:
        raise BusError(str(exc)) from None
    return BrokerAddress(
        host=parts.host,
        port=parts.port,
        tls=parts.tls,
        username=parts.username,
        password=parts.password,
        ca_file=tls.ca_file,
        cert_file=tls.cert_file,
        key_file=tls.key_file,
        tls_insecure=tls.insecure,
    )


def subscription_ids(properties: Properties | None) -> set[int]:
    if properties is None:
        return set()
    value = getattr(properties, "SubscriptionIdentifier", None)
    if value is None:
        return set()
    if isinstance(value, int):
        return {value}
    return {int(v) for v in value}


_PAHO_TABLES = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]


class PackedProperties(Properties):
    """paho ``Properties`` whose wire bytes weft computed itself (see ``to_paho``).

    paho only calls ``pack()`` on the properties of an outgoing packet; the
    values are also set as attributes (under paho's names), and paho's tables
    are shared rather than rebuilt, so printing, ``json()`` and attribute
    reads behave like a normal ``Properties``.
    """

    _packed: bytes

    def __init__(self, packet_type: int, packed: bytes, values: dict[str, Any]) -> None:
        # object.__setattr__ skips paho's per-attribute validation (the point).
        object.__setattr__(self, "packetType", packet_type)
        object.__setattr__(self, "types", _PAHO_TABLES.types)
        object.__setattr__(self, "names", _PAHO_TABLES.names)
        object.__setattr__(self, "properties", _PAHO_TABLES.properties)
        object.__setattr__(self, "_packed", packed)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def pack(self) -> bytes:
        return self._packed


def _varint(value: int) -> bytes:
    """MQTT Variable Byte Integer (MQTT 5 §1.5.5)."""
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _binary(data: bytes, what: str) -> bytes:
    if len(data) > 0xFFFF:
        raise BusError(f"MQTT property {what} is {len(data):,} bytes long (at most 65,535)")
    return struct.pack("!H", len(data)) + data


def _text(value: str, what: str) -> bytes:
    return _binary(value.encode(), what)


def to_paho(props: MessageProperties, packet_type: int = PacketTypes.PUBLISH) -> PackedProperties:
    """weft's properties as paho ``Properties`` (only those that are set), encoded once.

    Raises ``BusError`` for a string or binary property longer than MQTT's
    65,535 bytes.
    """
    parts: list[bytes] = []
    values: dict[str, Any] = {}
    if props.message_expiry is not None:
        parts.append(b"\x02" + struct.pack("!I", props.message_expiry))
        values["MessageExpiryInterval"] = props.message_expiry
    if props.content_type:
        parts.append(b"\x03" + _text(props.content_type, "Content Type"))
        values["ContentType"] = props.content_type
    if props.response_topic:
        parts.append(b"\x08" + _text(props.response_topic, "Response Topic"))
        values["ResponseTopic"] = props.response_topic
    if props.correlation_data is not None:
        parts.append(b"\x09" + _binary(props.correlation_data, "Correlation Data"))
        values["CorrelationData"] = props.correlation_data
    if props.user_properties:
        pairs = list(props.user_properties.items())
        for key, value in pairs:
            parts.append(b"\x26" + _text(key, "User Property") + _text(value, "User Property"))
        values["UserProperty"] = pairs
    body = b"".join(parts)
    return PackedProperties(packet_type, _varint(len(body)) + body, values)


def from_paho(raw: paho.MQTTMessage) -> Message:
    """A paho message as a weft ``Message``; raises if it cannot be represented.

    Built with ``model_construct``: paho decoded every field with its MQTT
    type already, so pydantic's validation would only repeat that, on every
    message. A topic that is not valid UTF-8 raises ``UnicodeDecodeError``.
    """
    topic = raw.topic
    props = raw.properties
    if props is not None:
        attrs = props.__dict__
        correlation = attrs.get("CorrelationData")
        pairs = attrs.get("UserProperty")
        properties = MessageProperties.model_construct(
            response_topic=attrs.get("ResponseTopic"),
            correlation_data=bytes(correlation) if correlation is not None else None,
            user_properties={str(k): str(v) for k, v in pairs} if pairs else {},
            message_expiry=attrs.get("MessageExpiryInterval"),
            content_type=attrs.get("ContentType"),
        )
    else:
        properties = MessageProperties.model_construct(content_type=None)
    payload: Any = raw.payload
    if isinstance(payload, bytes):
        pass
    elif isinstance(payload, bytearray):
        payload = bytes(payload)
    elif isinstance(payload, str):
        payload = payload.encode()
    elif payload is None:
        payload = b""
    else:
        payload = str(payload).encode()
    return Message.model_construct(
        topic=topic,
        payload=payload,
        qos=raw.qos,
        retain=bool(raw.retain),
        properties=properties,
    )
