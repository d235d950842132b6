"""``weft agents`` shows what a card says of its process, and ``-`` when it says nothing.

An agent written in another language (docs/protocol.md) may publish a card
without ``host`` and ``pid``; its HOST cell is ``-``, not ``:None``. The
cards are published retained on the real broker, as such a client would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

from weft.protocols import ActionSpec, AgentCard, Topics
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus


def card(namespace: str, agent_id: str, **process: object) -> bytes:
    """The card a foreign client writes: the required fields and ``process``'s."""
    data = {
        "agent_id": agent_id,
        "actions": [ActionSpec(name="echo").model_dump(mode="json")],
        "topic": Topics(namespace).agent_call(agent_id),
        **process,
    }
    AgentCard.model_validate(data)  # a valid card, whatever it leaves out
    return json.dumps(data).encode()


async def test_the_host_column_shows_what_the_card_gives(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    namespace = f"hosts-{uuid.uuid4().hex[:10]}"
    cards = {
        "node-client": card(namespace, "node-client"),
        "named-host": card(namespace, "named-host", host="box-7"),
        "full": card(namespace, "full", host="box-8", pid=4711),
    }
    async with MqttBus(mqtt_broker_url, namespace=namespace) as bus:
        for agent_id, payload in cards.items():
            await bus.publish(bus.topics.card(agent_id), payload, retain=True)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "weft",
                "agents",
                "--broker",
                mqtt_broker_url,
                "--namespace",
                namespace,
                env={**os.environ, "WEFT_HOME": str(tmp_path)},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        finally:
            for agent_id in cards:
                await bus.publish(bus.topics.card(agent_id), b"", retain=True)
    assert process.returncode == 0, err.decode()
    rows = {line.split()[0]: line for line in out.decode().splitlines()[1:] if line.strip()}
    assert rows["node-client"].endswith("  -")
    assert rows["named-host"].endswith("  box-7")
    assert rows["full"].endswith("  box-8:4711")
    assert ":None" not in out.decode()
