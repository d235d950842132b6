"""An A2A agent on an MQTT broker called as a weft action (``from_a2a("mqtt://...")``, YAML
``a2a: mqtt://...``): discovery, the task states, the deadline, cancellation, an agent that
goes offline and a broker that goes away. Real Mosquitto; a unit of its own per test."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from weft import DefinitionError, run_workflow, tool
from weft.agents import A2aAgentNotFound, A2aMqttAction, from_a2a, from_a2a_mqtt
from weft.agents.a2a_mqtt_link import A2aMqttLink, A2aMqttTarget
from weft.protocols import ActionCall, ActionState, MessageProperties
from weft.protocols import a2a_mqtt as wire
from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.engine.execution_context import UNUSED_CONTEXT
from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt

from .a2a_tools import echo, refuse, word_stats

WAIT = 5.0
#: A card as another vendor's agent would publish it (no weft extension).
FOREIGN_CARD = {
    "name": "Travel Desk",
    "description": "Books trips; asks back when a detail is missing.",
    "version": "3",
    "skills": [{"id": "book", "name": "book", "description": "book a trip", "tags": ["travel"]}],
}


def unique_address(agent: str = "tools") -> wire.A2aMqttAddress:
    return wire.A2aMqttAddress("acme", f"u{uuid.uuid4().hex[:10]}", agent)


def url_of(broker_url: str, address: wire.A2aMqttAddress) -> str:
    return f"{broker_url}/{address}"


async def call(action: A2aMqttAction, arguments: dict[str, Any], **fields: Any) -> Any:
    return await action.invoke(
        ActionCall(action=action.spec.name, arguments=arguments, **fields), UNUSED_CONTEXT
    )


@asynccontextmanager
async def foreign_agent(
    broker_url: str,
    address: wire.A2aMqttAddress,
    answer: Callable[[dict[str, Any]], dict[str, Any] | list[dict[str, Any]] | None],
    card: dict[str, Any] = FOREIGN_CARD,
) -> AsyncIterator[MqttBus]:
    """A hand-made A2A agent on the broker: its ``card`` retained ``online``; each request's
    reply is ``answer(request)`` (a list: a stream of replies; ``None``: no reply)."""
    async with MqttBus(broker_url, client_id=str(address)) as bus:
        sub = await bus.subscribe(address.request_topic)
        props = MessageProperties(user_properties={wire.STATUS: wire.ONLINE})
        payload = json.dumps(card)
        await bus.publish(address.discovery_topic, payload, retain=True, properties=props)

        async def serve() -> None:
            async for request in sub:
                reply = answer(json.loads(request.payload))
                for item in reply if isinstance(reply, list) else [reply] if reply else []:
                    await bus.reply(request, json.dumps(item))

        server = asyncio.create_task(serve())
        try:
            yield bus
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
            await bus.publish(address.discovery_topic, b"", retain=True)


@pytest.fixture
async def served(mqtt_broker_url: str) -> AsyncIterator[str]:
    """weft's own agent (echo, word_stats, refuse) on A2A over MQTT; its URL."""
    address = unique_address()
    tools = [echo, word_stats, refuse]
    async with serve_a2a_mqtt(tools, mqtt_broker_url, address, unregister=True):
        yield url_of(mqtt_broker_url, address)


# -- discovery and the answers -------------------------------------------------------------


async def test_from_a2a_reads_the_retained_card_and_the_call_completes(served: str) -> None:
    action = await from_a2a(served, skill="word_stats")
    try:
        assert isinstance(action, A2aMqttAction)
        assert action.spec.name == "tools"
        assert action.spec.description == "Count the words and characters of a document."
        result = await call(action, {"text": "three small words"})
    finally:
        await action.aclose()
    assert result.ok, result.error
    assert result.output == {"words": 3, "chars": 17}


async def test_concurrent_calls_each_get_their_own_answer(served: str) -> None:
    action = A2aMqttAction(served, name="echo", skill="echo")
    try:
        texts = [f"call {i}" for i in range(20)]
        results = await asyncio.gather(*(call(action, {"text": t}) for t in texts))
    finally:
        await action.aclose()
    assert [r.output for r in results] == [{"text": t} for t in texts]


async def test_a_failed_task_is_an_error_with_weft_s_own_error_info(served: str) -> None:
    action = A2aMqttAction(served, name="refuser", skill="refuse")
    try:
        result = await call(action, {"text": "this"})
    finally:
        await action.aclose()
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.type == "Refused" and result.error.retryable
    assert "will not process 'this'" in result.error.message


async def test_a_rejected_task_is_a_final_error(served: str) -> None:
    action = A2aMqttAction(served, name="tools", skill="no_such_skill")
    try:
        result = await call(action, {"text": "x"})
    finally:
        await action.aclose()
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.type == "A2ATaskFailed" and not result.error.retryable
    assert "no skill 'no_such_skill'" in result.error.message


async def test_input_required_from_a_foreign_agent_is_needs_input(mqtt_broker_url: str) -> None:
    address = unique_address("desk")

    def ask_back(request: dict[str, Any]) -> dict[str, Any]:
        message = request["params"]["message"]
        status = {
            "state": "TASK_STATE_INPUT_REQUIRED",
            "message": {"role": "ROLE_AGENT", "messageId": "m1", "parts": [{"text": "When?"}]},
        }
        task = {"id": message["taskId"], "contextId": "c1", "status": status}
        return wire.jsonrpc_result(request["id"], {"task": task})

    async with foreign_agent(mqtt_broker_url, address, ask_back):
        action = await from_a2a(url_of(mqtt_broker_url, address))
        try:
            result = await call(action, {"text": "a trip to Oslo"})
        finally:
            await action.aclose()
    assert action.spec.name == "Travel_Desk"
    assert action.spec.card is not None and "book a trip" in action.spec.card.skills
    assert result.state is ActionState.NEEDS_INPUT and result.error is not None
    assert result.error.message == "Travel_Desk: When?"


async def test_an_agent_stopping_answers_a_retryable_error(mqtt_broker_url: str) -> None:
    address = unique_address("desk")

    def stopping(request: dict[str, Any]) -> dict[str, Any]:
        return wire.jsonrpc_error(request["id"], wire.RESPONDER_UNAVAILABLE, "stopping")

    async with foreign_agent(mqtt_broker_url, address, stopping):
        action = A2aMqttAction(url_of(mqtt_broker_url, address))
        try:
            result = await call(action, {"text": "x"})
        finally:
            await action.aclose()
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.retryable and "-32004" in result.error.message


async def test_mqtts_to_a_plain_listener_says_to_use_mqtt(mqtt_broker_url: str) -> None:
    """As on weft's own bus: the TLS handshake a plain listener resets is named, with the
    URL to use, instead of a bare "connection reset by peer"."""
    address = unique_address("tls")
    url = url_of(mqtt_broker_url, address).replace("mqtt://", "mqtts://", 1)
    with pytest.raises(A2aAgentNotFound) as info:
        await from_a2a_mqtt(url, discovery_timeout=2.0)
    assert str(info.value).endswith(
        "(the broker reset the TLS handshake: is this a plain MQTT listener? then use mqtt://)"
    )


async def test_an_agent_not_on_the_broker_is_not_found_naming_its_topic(
    mqtt_broker_url: str,
) -> None:
    address = unique_address("ghost")
    with pytest.raises(A2aAgentNotFound, match=r"\$a2a/v1/discovery/acme/u\w+/ghost"):
        await from_a2a_mqtt(url_of(mqtt_broker_url, address), discovery_timeout=0.2)
    action = A2aMqttAction(url_of(mqtt_broker_url, address), discovery_timeout=0.2)
    try:
        result = await call(action, {"text": "x"})
    finally:
        await action.aclose()
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.type == "A2aAgentUnavailable" and result.error.retryable


# -- deadline, cancellation, presence, the broker -----------------------------------------


def slow_tool() -> tuple[Any, asyncio.Event, asyncio.Event]:
    """A tool that runs until cancelled; events for its start and its cancellation."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(text: str) -> dict[str, str]:
        """Takes its time."""
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {"text": text}

    return tool(slow), started, cancelled


async def test_the_deadline_ends_the_call_on_time_and_cancels_the_task(
    mqtt_broker_url: str,
) -> None:
    slow, started, cancelled = slow_tool()
    address = unique_address("slow")
    async with serve_a2a_mqtt([slow], mqtt_broker_url, address, unregister=True):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="slow")
        try:
            # Connected and the card read first: the 0.5 s are the call's alone, not also
            # a loaded machine's connect and discovery (the task never started if they ate it).
            await asyncio.wait_for(action.resolve(), WAIT)
            began = time.monotonic()
            result = await call(action, {"text": "x"}, deadline=time.time() + 0.5)
            took = time.monotonic() - began
            await asyncio.wait_for(cancelled.wait(), WAIT)
        finally:
            await action.aclose()
    assert started.is_set()
    assert result.state is ActionState.TIMEOUT and result.error is not None
    assert result.error.retryable
    assert 0.4 < took < 1.5


async def test_a_cancelled_call_cancels_the_agent_s_task(mqtt_broker_url: str) -> None:
    slow, started, cancelled = slow_tool()
    address = unique_address("slow")
    async with serve_a2a_mqtt([slow], mqtt_broker_url, address, unregister=True):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="slow")
        try:
            pending = asyncio.create_task(call(action, {"text": "x"}))
            await asyncio.wait_for(started.wait(), WAIT)
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            await asyncio.wait_for(cancelled.wait(), WAIT)
        finally:
            await action.aclose()


async def test_a_call_cancelled_before_its_request_is_acknowledged_cancels_the_task(
    mqtt_broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent may start before the request's PUBACK is back: a call cancelled in that
    window must still cancel the agent's task (seen once in a loaded CI run)."""
    slow, started, cancelled = slow_tool()
    address = unique_address("slow")
    publish = A2aMqttLink.publish
    delayed: list[str] = []

    async def slow_ack(self: A2aMqttLink, topic: str, body: Any, **kwargs: Any) -> None:
        # Noted before the real PUBACK is awaited: the agent may start before it is back.
        first = not delayed
        if first:  # the call's own request: its acknowledgement is late
            delayed.append(topic)
        await publish(self, topic, body, **kwargs)
        if first:
            await asyncio.sleep(60)

    monkeypatch.setattr(A2aMqttLink, "publish", slow_ack)
    async with serve_a2a_mqtt([slow], mqtt_broker_url, address, unregister=True):
        action = A2aMqttAction(url_of(mqtt_broker_url, address), name="slow")
        try:
            pending = asyncio.create_task(call(action, {"text": "x"}))
            await asyncio.wait_for(started.wait(), WAIT)
            assert delayed == [address.request_topic]
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            await asyncio.wait_for(cancelled.wait(), WAIT)
        finally:
            await action.aclose()


async def publish_card(link: A2aMqttLink, address: wire.A2aMqttAddress, status: str) -> None:
    props = {wire.STATUS: status, wire.STATUS_SOURCE: "lwt" if status == wire.OFFLINE else "agent"}
    topic = address.discovery_topic
    await link.publish(topic, FOREIGN_CARD, user_properties=props, retain=True)


async def test_an_agent_that_goes_offline_fails_the_waiting_call_retryably(
    mqtt_broker_url: str,
) -> None:
    address = unique_address("mute")
    target = A2aMqttTarget.parse(mqtt_broker_url, agent_required=False)
    async with A2aMqttLink(target, requester=address) as agent_side:
        requests = await agent_side.listen(address.request_topic)
        await publish_card(agent_side, address, wire.ONLINE)
        action = await from_a2a(url_of(mqtt_broker_url, address))
        assert isinstance(action, A2aMqttAction)
        try:
            pending = asyncio.create_task(call(action, {"text": "x"}))
            await asyncio.wait_for(requests.get(), WAIT)  # the call waits for its answer
            await publish_card(agent_side, address, wire.OFFLINE)  # as its Will would
            result = await asyncio.wait_for(pending, WAIT)
            again = await call(action, {"text": "x"})
        finally:
            await action.aclose()
            await agent_side.publish(address.discovery_topic, b"", retain=True)
    for failed in (result, again):
        assert failed.state is ActionState.ERROR and failed.error is not None
        assert failed.error.type == "A2aAgentUnavailable" and failed.error.retryable
        assert "offline (the broker's Will" in failed.error.message


async def test_an_agent_gone_offline_before_the_request_is_acknowledged_fails_the_call(
    mqtt_broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent's offline card may arrive while the request's PUBACK is still on its way:
    the call must fail then, not wait for an answer that never comes (the offline card
    would have woken only a call already waiting)."""
    address = unique_address("mute")
    target = A2aMqttTarget.parse(mqtt_broker_url, agent_required=False)
    async with A2aMqttLink(target, requester=address) as agent_side:
        requests = await agent_side.listen(address.request_topic)
        await publish_card(agent_side, address, wire.ONLINE)
        action = await from_a2a(url_of(mqtt_broker_url, address))
        assert isinstance(action, A2aMqttAction)
        publish = A2aMqttLink.publish

        async def offline_before_ack(self: A2aMqttLink, topic: str, body: Any, **kw: Any) -> None:
            await publish(self, topic, body, **kw)
            if self is not agent_side and topic == address.request_topic:
                await requests.get()  # the agent has the request, then goes offline
                await publish_card(agent_side, address, wire.OFFLINE)
                presence = await self.watch(address)
                while presence.online:  # the caller has seen it before its PUBACK returns
                    await presence.changed.wait()

        monkeypatch.setattr(A2aMqttLink, "publish", offline_before_ack)
        try:
            result = await asyncio.wait_for(call(action, {"text": "x"}), WAIT)
        finally:
            await action.aclose()
            await agent_side.publish(address.discovery_topic, b"", retain=True)
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.type == "A2aAgentUnavailable" and result.error.retryable
    assert "offline (the broker's Will" in result.error.message


async def test_a_lost_broker_fails_the_waiting_call_retryably(
    weft_broker: MosquittoBroker,
) -> None:
    address = unique_address("mute")
    target = A2aMqttTarget.parse(weft_broker.url, agent_required=False)
    agent_side = await A2aMqttLink(target, requester=address).open()
    try:
        requests = await agent_side.listen(address.request_topic)
        await publish_card(agent_side, address, wire.ONLINE)
        action = A2aMqttAction(url_of(weft_broker.url, address), name="mute")
        pending = asyncio.create_task(call(action, {"text": "x"}))
        await asyncio.wait_for(requests.get(), WAIT)  # the call waits for its answer
        await weft_broker.stop()
        result = await asyncio.wait_for(pending, WAIT)
        await action.aclose()
    finally:
        await agent_side.close()
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.type == "BrokerLost" and result.error.retryable


# -- YAML ----------------------------------------------------------------------------------


def write_workflow(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(
        "name: over-mqtt\n"
        "inputs:\n  text: {type: string}\n"
        f"actions:\n  stats: {source}\n"
        "nodes:\n  count:\n    action: stats\n"
        '    with: {document: "${inputs.text}"}\n'
    )
    return path


async def test_a_yaml_workflow_calls_an_agent_on_the_broker(served: str, tmp_path: Path) -> None:
    path = write_workflow(tmp_path, f'{{a2a: "{served}", skill: word_stats}}')
    result = await run_workflow(str(path), {"text": "a b c d"}, record=False)
    assert result.ok, result.error
    assert result.outputs["count"] == {"words": 4, "chars": 7}


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("mqtt://127.0.0.1:1883/acme/ops", "must name the agent as mqtt://HOST:PORT/ORG/UNIT"),
        ("mqtt://127.0.0.1:1883/acme/ops/a b", r"agent id 'a b' must match"),
        ("mqtt://127.0.0.1:port/acme/ops/x", "has a bad port"),
        ("mqtts://127.0.0.1/acme/ops/x?ca=/nonexistent/ca.pem", r"option ca='/nonexistent/ca.pem'"),
    ],
)
async def test_a_bad_mqtt_url_is_an_error_at_its_line(
    url: str, complaint: str, tmp_path: Path
) -> None:
    path = write_workflow(tmp_path, f'{{a2a: "{url}"}}')
    with pytest.raises(DefinitionError, match=complaint) as caught:
        await run_workflow(str(path), {"text": "x"}, record=False)
    assert "wf.yaml:5" in str(caught.value)


async def test_an_agent_missing_from_the_broker_is_an_error_at_its_line(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    address = unique_address("ghost")
    url = url_of(mqtt_broker_url, address)
    path = write_workflow(tmp_path, f'{{a2a: "{url}", timeout: 0.3}}')
    began = time.monotonic()
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(str(path), {"text": "x"}, record=False)
    message = str(caught.value)
    assert time.monotonic() - began < 3
    assert "wf.yaml:5" in message and "action 'stats'" in message
    assert f"no A2A agent card on {address.discovery_topic}" in message
    assert "within 0.3s" in message


# -- discovery while compiling inside a running loop ------------------------------------


async def test_the_loop_ticks_while_run_workflow_waits_for_a_late_card(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    """The agent is served only after a task on the caller's loop has ticked: had compiling
    blocked the loop, its card would never come and loading would fail at the a2a: line."""
    address = unique_address()
    url = url_of(mqtt_broker_url, address)
    path = write_workflow(tmp_path, f'{{a2a: "{url}", skill: word_stats, timeout: 4}}')
    ticks = 0
    done = asyncio.Event()

    async def tick_then_serve() -> None:
        nonlocal ticks
        while ticks < 5:
            await asyncio.sleep(0.01)
            ticks += 1
        async with serve_a2a_mqtt([echo, word_stats, refuse], mqtt_broker_url, address):
            await done.wait()

    agent = asyncio.create_task(tick_then_serve())
    try:
        result = await run_workflow(str(path), {"text": "one two"}, record=False)
    finally:
        done.set()
        await asyncio.wait_for(agent, WAIT)
    assert ticks == 5
    assert result.ok, result.error
    assert result.outputs["count"] == {"words": 2, "chars": 7}


async def test_missing_agents_are_the_same_error_on_both_paths(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    """Three agents absent: the async compile (all three awaited together) reports the
    first at its line, as the synchronous one (which stops at the first) does."""
    from weft.runtime.engine.compiler import compile_workflow, compile_workflow_async

    urls = [url_of(mqtt_broker_url, unique_address(f"ghost{i}")) for i in range(3)]
    path = tmp_path / "wf.yaml"
    path.write_text(
        "name: ghosts\nactions:\n"
        + "".join(f'  g{i}: {{a2a: "{u}", timeout: 0.6}}\n' for i, u in enumerate(urls))
        + "nodes:\n  a: {action: g0}\n  b: {action: g1}\n  c: {action: g2}\n"
    )
    with pytest.raises(DefinitionError) as awaited:
        await compile_workflow_async(path)
    with pytest.raises(DefinitionError) as blocking:
        await asyncio.to_thread(compile_workflow, path)
    message = str(blocking.value)
    assert "wf.yaml:3" in message and "action 'g0'" in message and "ghost0" in message
    assert "within 0.6s" in message
    assert str(awaited.value) == message
    assert awaited.value.problems == blocking.value.problems
