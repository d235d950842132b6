"""The CLI in its own processes: ``weft agent serve --a2a`` called by an A2A client over MQTT
(and its Will when it dies) and by a YAML workflow's ``a2a: mqtt://`` action, ``weft a2a
serve --http`` called through a2a-sdk's client."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import httpx

from weft import run_workflow
from weft.agents.a2a_action import from_a2a
from weft.protocols import ActionCall
from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import task_output
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost
from weft.testing.a2a_mqtt_client import A2aMqttClient
from weft.testing.processes import weft_process

from .a2a_tools import Recorder, call_once, echo, stepping_tool
from .test_a2a_push import sdk_client, send, user_message, with_push
from .webhook import WebhookReceiver, status_is

ROOT = Path(__file__).resolve().parents[2]
TOOLS = "tests/interop_a2a/a2a_tools.py"
WAIT = 20.0


async def test_an_a2a_client_over_mqtt_calls_an_agent_served_by_weft_agent_serve(
    mqtt_broker_url: str,
) -> None:
    unit = f"u{uuid.uuid4().hex[:10]}"
    address = wire.A2aMqttAddress("acme", unit, "echo-1")
    args = ["agent", "serve", f"{TOOLS}:echo", "--agent-id", "echo-1", "--a2a", f"acme/{unit}"]
    namespace = ["--namespace", unit, "--broker", mqtt_broker_url]
    async with (
        weft_process(*args, *namespace, ready="also serves A2A over MQTT", cwd=ROOT) as served,
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
        served.process.send_signal(signal.SIGKILL)
        will = await client.card(address, timeout=WAIT)
        assert will.user_properties == {wire.STATUS: wire.OFFLINE, wire.STATUS_SOURCE: "lwt"}
        assert will.body["name"] == "echo-1"
        await client.clear(address)


async def test_a_yaml_workflow_calls_an_agent_served_by_weft_agent_serve_over_a2a_mqtt(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    unit = f"u{uuid.uuid4().hex[:10]}"
    address = wire.A2aMqttAddress("acme", unit, "stats-1")
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        "name: count-over-mqtt\n"
        "inputs:\n  text: {type: string}\n"
        f'actions:\n  stats: {{a2a: "{mqtt_broker_url}/{address}"}}\n'
        'nodes:\n  count: {action: stats, with: {document: "${inputs.text}"}}\n'
    )
    args = [
        "agent",
        "serve",
        f"{TOOLS}:word_stats",
        "--agent-id",
        "stats-1",
        "--a2a",
        f"acme/{unit}",
    ]
    namespace = ["--namespace", unit, "--broker", mqtt_broker_url]
    async with weft_process(
        *args, *namespace, ready="also serves A2A over MQTT", cwd=ROOT
    ) as served:
        result = await run_workflow(str(workflow), {"text": "four words right here"}, record=False)
        assert result.ok, result.error
        assert result.outputs["count"] == {"words": 4, "chars": 21}
        # killed: its Will marks the card offline, and the next run fails, retryably
        async with A2aMqttClient(mqtt_broker_url) as client:
            await client.card(address)  # the retained card, online
            served.process.send_signal(signal.SIGKILL)
            will = await client.card(address, timeout=WAIT)
            assert will.user_properties[wire.STATUS] == wire.OFFLINE
            after = await run_workflow(str(workflow), {"text": "x"}, record=False)
            await client.clear(address)
    assert not after.ok
    failed = after.nodes["count"]
    assert failed.error is not None and failed.error.retryable
    assert "offline (the broker's Will: its connection died)" in failed.error.message


async def test_weft_a2a_serve_over_http_answers_the_sdk_client() -> None:
    args = ["a2a", "serve", f"{TOOLS}:word_stats", "--http", "127.0.0.1:0"]
    ready = r"A2A agent serving word_stats at (http://\S+/)"
    async with weft_process(*args, ready=ready, cwd=ROOT) as served:
        url = served.ready.group(1)
        action = await from_a2a(url)
        result = await call_once(action, {"text": "three small words"})
        served.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(served.process.wait(), WAIT) == 0
    assert result.ok, result.error
    assert result.output == {"words": 3, "chars": 17}
    assert action.spec.name == "word_stats"


async def test_weft_a2a_serve_push_allow_lets_a_loopback_webhook_get_the_task() -> None:
    async with WebhookReceiver() as hook:
        args = ["a2a", "serve", f"{TOOLS}:echo", "--http", "127.0.0.1:0"]
        allow = ["--push-allow", f"127.0.0.1:{hook.port}"]
        ready = (
            r"A2A agent serving echo at (http://\S+/) \(JSON-RPC, "
            rf"push notifications to webhooks on 127\.0\.0\.1:{hook.port}\)"
        )
        async with (
            weft_process(*args, *allow, ready=ready, cwd=ROOT) as served,
            httpx.AsyncClient() as http,
        ):
            client = await sdk_client(http, served.ready.group(1))
            task = await send(client, with_push(user_message("pushed"), hook.url))
            _, done = await hook.wait_for(status_is("TASK_STATE_COMPLETED"), WAIT)
    assert done["statusUpdate"]["taskId"] == task.id
    (artifact,) = [b["artifactUpdate"]["artifact"] for _, b in hook.posts if "artifactUpdate" in b]
    assert artifact["parts"] == [{"text": "pushed"}]


async def test_weft_a2a_serve_exposes_the_agents_alive_on_a_broker(mqtt_broker_url: str) -> None:
    namespace = f"a2a-{uuid.uuid4().hex[:8]}"
    args = ["a2a", "serve", "--http", "127.0.0.1:0", "--broker", mqtt_broker_url]
    ready = r"A2A agent serving echo at (http://\S+/)"
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        AgentHost(bus, [echo], agent_id="echo-on-bus"),
        weft_process(*args, "--namespace", namespace, ready=ready, cwd=ROOT) as served,
    ):
        url = served.ready.group(1)
        action = await from_a2a(url)
        result = await call_once(action, {"text": "via the bus"})
    assert result.ok, result.error
    assert result.output == {"text": "via the bus"}


async def test_progress_of_an_agent_on_the_broker_reaches_an_a2a_caller_through_weft_a2a_serve(
    mqtt_broker_url: str,
) -> None:
    """Two hops: the agent's progress goes over weft's protocol to `weft a2a serve`, which
    streams it to the A2A caller as working status updates."""
    steps, release = stepping_tool()
    release.set()
    namespace = f"a2a-{uuid.uuid4().hex[:8]}"
    args = ["a2a", "serve", "--http", "127.0.0.1:0", "--broker", mqtt_broker_url]
    ready = r"A2A agent serving steps at (http://\S+/)"
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        AgentHost(bus, [steps], agent_id="steps-on-bus"),
        weft_process(*args, "--namespace", namespace, ready=ready, cwd=ROOT) as served,
    ):
        action = await from_a2a(served.ready.group(1))
        call = ActionCall(action=action.spec.name, arguments={"text": "far"})
        recorder = Recorder(call)
        try:
            result = await action.invoke(call, recorder)
        finally:
            await action.aclose()
    assert result.ok, result.error
    assert result.output == {"text": "FAR"}
    assert [r[0] for r in recorder.reports] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
