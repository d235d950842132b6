"""Presence that tells the truth: frozen agents go stale, bad cards hide nothing, newer agents talk.

A card's age is the card's own (its ``sent_at`` and ``heartbeat_interval``,
bounded by the broker's count-down of its Message Expiry), never the time
since a registry happened to receive it: ``weft agents`` receives every
retained card the moment it starts.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

from distributed_agents import shout
from distributed_support import ROOT, WAIT, AgentProcesses, agent_of, fast_bus

from weft.protocols import (
    ActionCall,
    ActionResult,
    ActionSpec,
    AgentCard,
    CallAccepted,
    CapabilityCard,
    DeadLetter,
    DeadLetterReason,
    MessageProperties,
)
from weft.protocols.remote import KIND_ACCEPTED, KIND_PROPERTY, KIND_RESULT
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.card_signing import AgentKey, sign_card_data
from weft.runtime.remote.live_registry import LiveRegistry

HEARTBEAT = 1.0


async def weft_agents(broker_url: str, ns: str, *args: str) -> str:
    """The output of ``weft agents`` run as its own process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weft", "agents", "--broker", broker_url, "--namespace", ns, *args,
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode == 0
    return out.decode()


async def status_of(broker_url: str, ns: str, agent: str) -> str:
    """The STATUS column of ``agent``'s row in the ``weft agents`` table."""
    rows = [line.split() for line in (await weft_agents(broker_url, ns)).splitlines()]
    return next(row[1] for row in rows if row[0] == agent)


async def until(moment: float) -> None:
    """Let wall time reach ``moment``: the behaviour under test is a bound in time."""
    await asyncio.sleep(max(moment - time.time(), 0.0))


async def test_a_frozen_agent_is_listed_stale_within_two_heartbeats_and_fresh_once_thawed(
    agent_procs: AgentProcesses, caller: LiveRegistry, broker_url: str, ns: str
) -> None:
    proc = await agent_procs.start("distributed_agents:shout", args=("--heartbeat", str(HEARTBEAT)))
    agent = await agent_of(caller, proc)
    assert await status_of(broker_url, ns, agent) == "serving"
    proc.send_signal(signal.SIGSTOP)
    frozen_at = time.time()
    try:
        await until(frozen_at + 2 * HEARTBEAT)
        assert await status_of(broker_url, ns, agent) == "stale"
        info = caller.get(agent)
        assert info is not None and not info.fresh()  # the long-lived registry agrees
        assert agent not in caller.alive()
    finally:
        proc.send_signal(signal.SIGCONT)

    def fresh() -> bool:
        info = caller.get(agent)
        return info is not None and info.fresh()

    assert await caller.wait_until(fresh, WAIT), "the thawed agent never refreshed its card"
    assert await status_of(broker_url, ns, agent) == "serving"


async def test_calls_go_round_a_pool_whose_other_replica_is_frozen(
    agent_procs: AgentProcesses, broker_url: str, ns: str
) -> None:
    # ack_timeout 60: a call handed to the frozen replica would hang past the wait below
    async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus, ack_timeout=60) as registry:
        beat = ("--heartbeat", str(HEARTBEAT))
        frozen_proc = await agent_procs.start("distributed_agents:shout", args=beat)
        fresh_proc = await agent_procs.start("distributed_agents:shout", args=beat)
        frozen = await agent_of(registry, frozen_proc)
        fresh = await agent_of(registry, fresh_proc)
        frozen_proc.send_signal(signal.SIGSTOP)
        try:

            def frozen_is_stale() -> bool:
                info = registry.get(frozen)
                return info is not None and not info.fresh()

            assert await registry.wait_until(frozen_is_stale, WAIT)
            calls = [
                registry.remote("shout").invoke(ActionCall(action="shout", arguments={"text": t}))
                for t in "abcdef"
            ]
            results = await asyncio.wait_for(asyncio.gather(*calls), WAIT)
        finally:
            frozen_proc.send_signal(signal.SIGCONT)
    assert [r.output for r in results] == list("ABCDEF")
    assert {r.agent for r in results} == {fresh}


async def test_a_malformed_retained_card_is_dead_lettered_and_hides_no_card_behind_it(
    caller: LiveRegistry, broker_url: str, ns: str
) -> None:
    garbage = {"aaa": b"\xff\xfe not json", "mmm": b'{"agent_id": "mmm"}', "zzz": b"[1, 2]"}
    async with fast_bus(broker_url, ns) as raw, fast_bus(broker_url, ns) as host_bus:
        dead = await raw.subscribe(raw.topics.dead_letter())
        for name, payload in garbage.items():
            await raw.publish(raw.topics.card(name), payload, retain=True)
        async with AgentHost(host_bus, [shout], heartbeat_interval=HEARTBEAT) as host:
            await caller.wait_for(["shout"], WAIT)  # it saw the garbage arrive, then the card
            listed = json.loads(await weft_agents(broker_url, ns, "--json"))  # all replayed at once
            records = [
                DeadLetter.model_validate_json((await dead.get(WAIT)).payload) for _ in "abc"
            ]
        for name in garbage:
            await raw.publish(raw.topics.card(name), b"", retain=True)
    assert [card["agent_id"] for card in listed] == [host.agent_id]
    assert caller.invalid_cards == 3
    assert {r.reason for r in records} == {DeadLetterReason.INVALID_CARD}
    assert {r.topic for r in records} == {raw.topics.card(name) for name in garbage}


def with_extras(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as a newer weft might send it: with a field this version does not know."""
    return {**data, "added_later": {"by": "a newer weft"}}


async def newer_agent_card(bus: MqttBus, agent_id: str) -> None:
    """Publish the card of a newer agent: unknown fields at every level."""
    spec = ActionSpec(name="echo", card=CapabilityCard(agent_id="echo", skills=["echo text"]))
    card = AgentCard(agent_id=agent_id, actions=[spec], topic=bus.topics.agent_call(agent_id))
    data = with_extras(card.model_dump(mode="json"))
    data["load"] = with_extras(data["load"])
    data["actions"] = [with_extras({**a, "card": with_extras(a["card"])}) for a in data["actions"]]
    data = sign_card_data(data, AgentKey.load_or_create())  # the signature covers the extras
    await bus.publish(bus.topics.card(agent_id), json.dumps(data), retain=True)


async def test_a_newer_agents_card_and_replies_with_unknown_fields_are_understood(
    caller: LiveRegistry, broker_url: str, ns: str
) -> None:
    async with fast_bus(broker_url, ns, client_id="newer-1") as agent:
        calls = await agent.subscribe(agent.topics.agent_call("newer-1"))
        await newer_agent_card(agent, "newer-1")
        await caller.wait_for(["echo"], WAIT)
        pending = asyncio.create_task(
            caller.remote("echo").invoke(ActionCall(action="echo", arguments={"text": "hi"}))
        )
        request = await calls.get(WAIT)
        call = ActionCall.model_validate_json(request.payload)
        accepted = CallAccepted(call_id=call.call_id, attempt=call.attempt, agent_id="newer-1")
        result = ActionResult.success(call.call_id, call.arguments["text"])
        result.agent = "newer-1"
        for kind, reply in ((KIND_ACCEPTED, accepted), (KIND_RESULT, result)):
            payload = with_extras(reply.model_dump(mode="json"))
            props = MessageProperties(user_properties={KIND_PROPERTY: kind})
            await agent.reply(request, json.dumps(payload), properties=props)
        answer = await asyncio.wait_for(pending, WAIT)
        await agent.publish(agent.topics.card("newer-1"), b"", retain=True)
    assert answer.ok and answer.output == "hi" and answer.agent == "newer-1"
    assert caller.invalid_cards == 0


async def test_a_call_with_unknown_fields_is_served(broker_url: str, ns: str) -> None:
    async with (
        fast_bus(broker_url, ns) as host_bus,
        fast_bus(broker_url, ns) as client,
        AgentHost(host_bus, [shout]) as host,
    ):
        reply_to = client.topics.replies(client.client_id)
        answers = await client.subscribe(reply_to)
        call = with_extras(ActionCall(action="shout", arguments={"text": "hi"}).model_dump())
        props = MessageProperties(response_topic=reply_to, correlation_data=b"c1")
        await client.publish(
            client.topics.agent_call(host.agent_id), json.dumps(call), properties=props
        )
        result = ActionResult.model_validate_json((await answers.get(WAIT)).payload)
    assert result.ok and result.output == "HI"


async def test_a_card_from_a_clock_that_runs_ahead_still_ages_by_the_brokers_count(
    broker_url: str, ns: str
) -> None:
    async with fast_bus(broker_url, ns) as bus:
        topic = bus.topics.card("ahead-1")
        card = AgentCard(
            agent_id="ahead-1",
            actions=[],
            topic=bus.topics.agent_call("ahead-1"),
            heartbeat_interval=0.2,
            sent_at=time.time() + 3600,  # its clock says it was sent in an hour
            expiry=60,
        )
        props = MessageProperties(message_expiry=60)
        await bus.publish(topic, card.model_dump_json(), retain=True, properties=props)

        async def held() -> int:
            """Seconds the broker says it has held the card."""
            async with await bus.subscribe(topic) as sub:
                message = await sub.get(WAIT)
            return 60 - (message.properties.message_expiry or 60)

        async with asyncio.timeout(WAIT):
            while await held() < 2:
                await asyncio.sleep(0.1)
        async with fast_bus(broker_url, ns) as late_bus, LiveRegistry(late_bus) as late:
            info = late.get("ahead-1")
        await bus.publish(topic, b"", retain=True)
    assert info is not None and not info.fresh()
