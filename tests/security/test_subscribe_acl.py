"""A broker that refuses SUBSCRIBE by ACL: the refusal reaches the agent as a ``BusError``.

Mosquitto's ``acl_file`` never refuses a subscription (it filters at
delivery, see test_acl.py); its dynamic-security plugin does, with SUBACK
reason code 0x87, and so do EMQX and HiveMQ. This runs Mosquitto with that
plugin and a role that lets alice subscribe to her own calls and pool only.
"""

from __future__ import annotations

import glob
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from weft.protocols import BusError
from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.bus.mqtt.broker_auth import hash_password
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

WAIT = 10.0
PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
    "/opt/homebrew/lib/mosquitto_dynamic_security.so",
)


def dynsec_plugin() -> str:
    for pattern in PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    pytest.fail(
        "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) is not "
        "installed: apt-get install mosquitto (Debian ships it)"
    )


def dynsec_client(user: str, password: str, role: str) -> dict[str, object]:
    _, _, iterations, salt, digest = hash_password(password).split("$")
    return {
        "username": user,
        "password": digest,
        "salt": salt,
        "iterations": int(iterations),
        "roles": [{"rolename": role}],
    }


def allow(acltype: str, topic: str) -> dict[str, object]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


@pytest.fixture
async def dynsec_broker(tmp_path: Path) -> AsyncIterator[MosquittoBroker]:
    config = {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [dynsec_client("alice", "alice-secret", "agent-alice")],
        "groups": [],
        "roles": [
            {
                "rolename": "agent-alice",
                "acls": [
                    allow("subscribePattern", "weft/+/agents/alice/call"),
                    allow("subscribePattern", "$share/alice/weft/+/pools/alice/call"),
                    allow("subscribePattern", "weft/+/replies/alice-1"),
                    allow("publishClientSend", "weft/+/cards/alice"),
                    allow("publishClientSend", "weft/+/replies/+"),
                ],
            }
        ],
    }
    path = tmp_path / "dynamic-security.json"
    path.write_text(json.dumps(config))
    broker = MosquittoBroker(
        extra_config=f"plugin {dynsec_plugin()}\nplugin_opt_config_file {path}\n",
        allow_anonymous=False,
    )
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def alice(broker: MosquittoBroker) -> MqttBus:
    url = broker.url.replace("://", "://alice:alice-secret@", 1)
    return MqttBus(url, namespace="sec", client_id="alice-1")


async def test_subscribing_to_another_agents_calls_is_refused(
    dynsec_broker: MosquittoBroker,
) -> None:
    async with alice(dynsec_broker) as bus:
        with pytest.raises(BusError, match=r"refused subscription .*agents/bob/call.*authori"):
            await bus.subscribe(bus.topics.agent_call("bob"))


async def test_joining_another_agents_pool_is_refused(dynsec_broker: MosquittoBroker) -> None:
    async with alice(dynsec_broker) as bus:
        with pytest.raises(BusError, match="refused subscription"):
            await bus.subscribe(bus.topics.shared_pool_subscription("bob"))


async def test_an_agent_subscribes_to_its_own_calls_and_pool(
    dynsec_broker: MosquittoBroker,
) -> None:
    async with alice(dynsec_broker) as bus:
        await bus.subscribe(bus.topics.agent_call("alice"))
        await bus.subscribe(bus.topics.shared_pool_subscription("alice"))
        assert bus.connected
