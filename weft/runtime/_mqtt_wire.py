"""The wire mapping of the MQTT bus: broker URLs, and weft messages to/from paho.

Kept apart from ``mqtt_bus`` (connection, routing) because it is pure data
mapping: no I/O, easy to test on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from weft.protocols import BusError, Message, MessageProperties


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """A parsed broker URL: ``mqtt://[user:pass@]host[:port][?ca=&cert=&key=&insecure=1]``.

    ``mqtts://`` turns TLS on (default port 8883, 1883 for ``mqtt://``).
    ``ca`` is the CA bundle used to verify the broker (system CAs when absent),
    ``cert``/``key`` a client certificate, ``insecure=1`` skips the host name
    check (self-signed test setups only).
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


_QUERY_KEYS = {"ca", "cert", "key", "insecure"}


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://`` / ``mqtts://`` URLs; ``BusError`` names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise BusError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise BusError(f"broker URL {url!r} has no host")
    try:
        port = parts.port
    except ValueError:
        raise BusError(f"broker URL {url!r} has an invalid port") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - _QUERY_KEYS
    if unknown:
        raise BusError(
            f"broker URL {url!r}: unknown option(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_QUERY_KEYS))})"
        )

    def opt(key: str) -> str | None:
        values = query.get(key)
        return values[-1] if values else None

    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ca_file=opt("ca"),
        cert_file=opt("cert"),
        key_file=opt("key"),
        tls_insecure=(opt("insecure") or "").lower() in ("1", "true", "yes"),
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


def to_paho(props: MessageProperties, packet_type: int = PacketTypes.PUBLISH) -> Properties:
    """weft's properties as paho ``Properties`` (only those that are set)."""
    out = Properties(packet_type)  # type: ignore[no-untyped-call]
    if props.response_topic:
        out.ResponseTopic = props.response_topic
    if props.correlation_data is not None:
        out.CorrelationData = props.correlation_data
    if props.user_properties:
        out.UserProperty = list(props.user_properties.items())
    if props.message_expiry is not None:
        out.MessageExpiryInterval = props.message_expiry
    if props.content_type:
        out.ContentType = props.content_type
    return out


def from_paho(raw: aiomqtt.Message) -> Message:
    """An aiomqtt message as a weft ``Message``; raises if it cannot be represented."""
    props = raw.properties

    def get(name: str) -> Any:
        return getattr(props, name, None) if props is not None else None

    correlation = get("CorrelationData")
    payload = raw.payload
    if isinstance(payload, str):
        payload = payload.encode()
    elif payload is None:
        payload = b""
    elif not isinstance(payload, bytes | bytearray):
        payload = str(payload).encode()
    return Message(
        topic=raw.topic.value,
        payload=bytes(payload),
        qos=raw.qos,
        retain=bool(raw.retain),
        properties=MessageProperties(
            response_topic=get("ResponseTopic"),
            correlation_data=bytes(correlation) if correlation is not None else None,
            user_properties={str(k): str(v) for k, v in (get("UserProperty") or [])},
            message_expiry=get("MessageExpiryInterval"),
            content_type=get("ContentType"),
        ),
    )
