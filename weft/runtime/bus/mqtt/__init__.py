"""MQTT v5 transport: the bus over a broker, and the Mosquitto that ``weft broker`` runs.

``MqttBus`` maps weft's messages onto MQTT v5 (response topic, correlation data,
user properties, message expiry); ``broker`` starts a local Mosquitto with
weft's low-latency config; ``broker_auth`` writes its password and ACL files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "MosquittoBroker": "weft.runtime.bus.mqtt.broker",
    "MqttBus": "weft.runtime.bus.mqtt.mqtt_bus",
    "TlsListener": "weft.runtime.bus.mqtt.broker",
    "find_mosquitto": "weft.runtime.bus.mqtt.broker",
    "free_port": "weft.runtime.bus.mqtt.broker",
    "hash_password": "weft.runtime.bus.mqtt.broker_auth",
    "parse_broker_url": "weft.runtime.bus.mqtt.mqtt_bus",
    "render_acl": "weft.runtime.bus.mqtt.broker_auth",
    "render_config": "weft.runtime.bus.mqtt.broker",
    "write_acl_file": "weft.runtime.bus.mqtt.broker_auth",
    "write_password_file": "weft.runtime.bus.mqtt.broker_auth",
}

__all__ = [
    "MosquittoBroker",
    "MqttBus",
    "TlsListener",
    "find_mosquitto",
    "free_port",
    "hash_password",
    "parse_broker_url",
    "render_acl",
    "render_config",
    "write_acl_file",
    "write_password_file",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.bus.mqtt.broker import (
        MosquittoBroker,
        TlsListener,
        find_mosquitto,
        free_port,
        render_config,
    )
    from weft.runtime.bus.mqtt.broker_auth import (
        hash_password,
        render_acl,
        write_acl_file,
        write_password_file,
    )
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus, parse_broker_url
