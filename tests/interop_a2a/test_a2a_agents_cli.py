"""``weft agents --format a2a``: the agents on a broker as A2A agent cards."""

from __future__ import annotations

import asyncio
import json
import uuid

from click.testing import CliRunner

from weft import tool
from weft.cli import cli
from weft.protocols import CapabilityCard
from weft.protocols.a2a import WEFT_MQTT_BINDING, specs_from_a2a
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.interop import validate_agent_card
from weft.runtime.remote.agent_host import AgentHost


@tool(
    card=CapabilityCard(
        agent_id="echo", skills=["repeat text"], examples=["say hi back"], tags=["safe"]
    )
)
def echo(text: str) -> dict[str, str]:
    """Return the text it was given."""
    return {"text": text}


async def test_agents_print_as_a2a_cards_that_the_sdk_validates(mqtt_broker_url: str) -> None:
    namespace = f"a2a-{uuid.uuid4().hex[:8]}"
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        AgentHost(bus, [echo], agent_id="echo-agent"),
    ):
        result = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["agents", "--format", "a2a", "--broker", mqtt_broker_url, "--namespace", namespace],
        )
    assert result.exit_code == 0, result.output
    (card,) = json.loads(result.output)
    written = validate_agent_card(card)
    assert written["name"] == "echo-agent"
    assert written["supportedInterfaces"][0]["protocolBinding"] == WEFT_MQTT_BINDING
    assert written["skills"][0] == {
        "id": "echo",
        "name": "echo",
        "description": "Return the text it was given.",
        "tags": ["safe", "repeat text"],
        "examples": ["say hi back"],
    }
    (spec,) = specs_from_a2a(written)
    assert spec.name == "echo" and spec.card is not None and spec.card.tags == ["safe"]


def test_a2a_serve_needs_a_transport() -> None:
    result = CliRunner().invoke(cli, ["a2a", "serve", "x.py:y"])
    assert result.exit_code == 2
    assert "give --http HOST:PORT, --mqtt ORG/UNIT/AGENT, or both" in result.output


async def test_a2a_serve_of_a_broker_without_agents_exits_2(mqtt_broker_url: str) -> None:
    namespace = f"empty-{uuid.uuid4().hex[:8]}"
    args = ["a2a", "serve", "--http", "127.0.0.1:0", "--broker", mqtt_broker_url]
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, [*args, "--namespace", namespace, "--wait", "0"]
    )
    assert result.exit_code == 2, result.output
    assert f"no agents on {mqtt_broker_url} (namespace {namespace})" in result.output


def test_agent_serve_refuses_an_a2a_unit_outside_the_profile_alphabet() -> None:
    result = CliRunner().invoke(cli, ["agent", "serve", "x.py:y", "--a2a", "acme/o ps"])
    assert result.exit_code == 2
    assert "unit id 'o ps' must match" in result.output
