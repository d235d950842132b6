"""The bus: one small interface and its transports.

``Bus`` is the boundary everything above it talks to (publish, subscribe,
request/reply, a reconnect signal); ``InProcessBus`` carries it inside one
process with no broker, ``MqttBus`` over an MQTT v5 broker. Both pass the same
conformance suite, so the executor, the agent host and the orchestrator are
tested on the in-process bus alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Bus": "weft.runtime.bus.base",
    "InProcessBroker": "weft.runtime.bus.inprocess",
    "InProcessBus": "weft.runtime.bus.inprocess",
    "MosquittoBroker": "weft.runtime.bus.mqtt.broker",
    "MqttBus": "weft.runtime.bus.mqtt.mqtt_bus",
    "Subscription": "weft.runtime.bus.base",
    "parse_broker_url": "weft.runtime.bus.mqtt.mqtt_bus",
}

__all__ = [
    "Bus",
    "InProcessBroker",
    "InProcessBus",
    "MosquittoBroker",
    "MqttBus",
    "Subscription",
    "parse_broker_url",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.bus.base import Bus, Subscription
    from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
    from weft.runtime.bus.mqtt.broker import MosquittoBroker
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus, parse_broker_url
