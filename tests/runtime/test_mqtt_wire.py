"""weft's own encoding of MQTT v5 properties matches paho's, both ways."""

from __future__ import annotations

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from weft.protocols import BusError, MessageProperties
from weft.runtime.bus.mqtt._wire import from_paho, to_paho

CASES = [
    MessageProperties(),
    MessageProperties(content_type=None),
    MessageProperties(
        response_topic="weft/ns/replies/c1",
        correlation_data=b"c1:7",
        message_expiry=31,
        user_properties={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "k": "v"},
    ),
    MessageProperties(correlation_data=b"\x00\xff" * 300, content_type="text/plain; ü"),
]


def paho_properties(props: MessageProperties) -> Properties:
    out = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if props.message_expiry is not None:
        out.MessageExpiryInterval = props.message_expiry
    if props.content_type:
        out.ContentType = props.content_type
    if props.response_topic:
        out.ResponseTopic = props.response_topic
    if props.correlation_data is not None:
        out.CorrelationData = props.correlation_data
    if props.user_properties:
        out.UserProperty = list(props.user_properties.items())
    return out


@pytest.mark.parametrize("props", CASES)
def test_packed_bytes_equal_pahos(props: MessageProperties) -> None:
    expected = paho_properties(props).pack()  # type: ignore[no-untyped-call]
    assert to_paho(props).pack() == expected


@pytest.mark.parametrize("props", CASES)
def test_a_message_comes_back_with_the_properties_it_was_sent_with(
    props: MessageProperties,
) -> None:
    decoded = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    decoded.unpack(to_paho(props).pack())  # type: ignore[no-untyped-call]
    raw = paho.MQTTMessage(mid=1, topic=b"weft/ns/t")
    raw.payload, raw.qos, raw.properties = b"body", 1, decoded
    message = from_paho(raw)
    assert (message.topic, message.payload, message.qos) == ("weft/ns/t", b"body", 1)
    expected = props.model_copy(update={"content_type": props.content_type or None})
    assert message.properties == expected


def test_packed_properties_read_like_pahos() -> None:
    packed = to_paho(MessageProperties(response_topic="r", correlation_data=b"c"))
    assert getattr(packed, "ResponseTopic") == "r"  # noqa: B009 (paho sets it dynamically)
    assert getattr(packed, "CorrelationData") == b"c"  # noqa: B009
    assert "ResponseTopic : r" in str(packed)


def test_a_property_longer_than_mqtt_allows_is_a_bus_error() -> None:
    with pytest.raises(BusError, match="Correlation Data is 70,000 bytes"):
        to_paho(MessageProperties(correlation_data=b"x" * 70_000))


def test_an_invalid_utf8_topic_cannot_be_converted() -> None:
    raw = paho.MQTTMessage(mid=1, topic=b"weft/\xff")
    with pytest.raises(UnicodeDecodeError):
        from_paho(raw)
