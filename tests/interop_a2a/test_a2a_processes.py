"""The CLI in its own processes: ``weft agent serve --a2a`` called by an A2A client over MQTT
(and its Will when it dies), ``weft a2a serve --http`` called through a2a-sdk's client."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from weft.agents.a2a_action import from_a2a
from weft.protocols import ActionCall
from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import task_output
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.engine.execution_context import UNUSED_CONTEXT
from weft.runtime.remote.agent_host import AgentHost
from weft.testing.a2a_mqtt_client import A2aMqttClient

from .a2a_tools import echo

ROOT = Path(__file__).resolve().parents[2]
TOOLS = "tests/interop_a2a/a2a_tools.py"
WAIT = 20.0


@asynccontextmanager
async def weft(*args: str, ready: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """``weft ARGS`` running until the block ends; entered once stderr shows ``ready``
    (the line that did is ``proc.ready_line``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weft", *args, cwd=ROOT, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        seen = []
        async with asyncio.timeout(WAIT):
            while True:
                line = (await proc.stderr.readline()).decode()
                seen.append(line)
                assert line, f"weft {' '.join(args)} exited: {''.join(seen)}"
                if ready in line:
                    break
        proc.ready_line = line  # type: ignore[attr-defined]
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_an_a2a_client_over_mqtt_calls_an_agent_served_by_weft_agent_serve(
    mqtt_broker_url: str,
) -> None:
    unit = f"u{uuid.uuid4().hex[:10]}"
    address = wire.A2aMqttAddress("acme", unit, "echo-1")
    args = ["agent", "serve", f"{TOOLS}:echo", "--agent-id", "echo-1", "--a2a", f"acme/{unit}"]
    namespace = ["--namespace", unit, "--broker", mqtt_broker_url]
    async with (
        weft(*args, *namespace, ready="also serves A2A over MQTT") as proc,
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        card = await client.card(address)
        assert card.user_properties[wire.STATUS] == wire.ONLINE
        assert [s["id"] for s in card.body["skills"]] == ["echo"]
        reply = await client.send_message(address.request_topic, {"text": "over mqtt"})
        task = reply.body["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        assert task_output(task) == {"text": "over mqtt"}
        assert reply.user_properties[wire.RESPONDER] == "echo-1"
        # killed: the broker publishes the agent's Will, its card marked offline
        proc.send_signal(signal.SIGKILL)
        will = await client.card(address, timeout=WAIT)
        assert will.user_properties == {wire.STATUS: wire.OFFLINE, wire.STATUS_SOURCE: "lwt"}
        assert will.body["name"] == "echo-1"
        await client.clear(address)


async def test_weft_a2a_serve_over_http_answers_the_sdk_client() -> None:
    args = ["a2a", "serve", f"{TOOLS}:word_stats", "--http", "127.0.0.1:0"]
    async with weft(*args, ready="A2A agent serving word_stats") as proc:
        url = re.search(r"at (http://\S+/)", proc.ready_line).group(1)  # type: ignore[attr-defined]
        action = await from_a2a(url)
        try:
            result = await action.invoke(
                ActionCall(action="word_stats", arguments={"text": "three small words"}),
                UNUSED_CONTEXT,
            )
        finally:
            await action.aclose()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    assert result.ok, result.error
    assert result.output == {"words": 3, "chars": 17}
    assert action.spec.name == "word_stats"


async def test_weft_a2a_serve_exposes_the_agents_alive_on_a_broker(mqtt_broker_url: str) -> None:
    namespace = f"a2a-{uuid.uuid4().hex[:8]}"
    args = ["a2a", "serve", "--http", "127.0.0.1:0", "--broker", mqtt_broker_url]
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        AgentHost(bus, [echo], agent_id="echo-on-bus"),
        weft(*args, "--namespace", namespace, ready="A2A agent serving echo at") as proc,
    ):
        url = re.search(r"at (http://\S+/)", proc.ready_line).group(1)  # type: ignore[attr-defined]
        action = await from_a2a(url)
        try:
            result = await action.invoke(
                ActionCall(action="echo", arguments={"text": "via the bus"}), UNUSED_CONTEXT
            )
        finally:
            await action.aclose()
    assert result.ok, result.error
    assert result.output == {"text": "via the bus"}
