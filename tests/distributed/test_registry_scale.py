"""The live registry with hundreds of retained cards, and many agents in one process.

At scale the registry takes cards in without checking their signatures and
judges an agent's trust when first asked (``AgentInfo.trust``); these tests
check that the laziness changes nothing a caller sees: every card is there,
a cleared card is gone, an untrusted or tampered card never serves, and a
broker that keeps few unacknowledged messages still hands every card over.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from distributed_support import WAIT, fast_bus

from weft import tool
from weft.protocols import ActionCall, ActionSpec, AgentCard, Topics
from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_group import AgentGroup, plan_agents
from weft.runtime.remote.agent_host import hosted
from weft.runtime.remote.card_signing import AgentKey, sign_card_data
from weft.runtime.remote.card_verifier import FILE_TAG, SignatureCache
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.remote.trust import TrustPolicy, TrustRule

TRUSTED = 300
OTHERS = 40  # signed by a key nobody trusts
TAMPERED = 10  # signed by the trusted key, then altered


def card_data(agent_id: str, ns: str, action: str) -> dict[str, Any]:
    topics = Topics(ns)
    card = AgentCard(
        agent_id=agent_id,
        actions=[ActionSpec(name=action, description=f"{action} of {agent_id}")],
        topic=topics.agent_call(agent_id),
        heartbeat_interval=3600.0,
    )
    return json.loads(card.model_dump_json(exclude={"public_key", "signature"}))


async def publish_cards(bus: MqttBus, cards: dict[str, dict[str, Any]]) -> None:
    await asyncio.gather(
        *(
            bus.publish(bus.topics.card(agent_id), json.dumps(data), qos=1, retain=True)
            for agent_id, data in cards.items()
        )
    )


def population(ns: str, trusted: AgentKey, stranger: AgentKey) -> dict[str, dict[str, Any]]:
    cards = {}
    for i in range(TRUSTED):
        cards[f"a{i:04d}"] = sign_card_data(card_data(f"a{i:04d}", ns, f"act-{i}"), trusted)
    for i in range(OTHERS):
        cards[f"o{i:04d}"] = sign_card_data(card_data(f"o{i:04d}", ns, f"act-{i}"), stranger)
    for i in range(TAMPERED):
        data = sign_card_data(card_data(f"t{i:04d}", ns, f"act-{i}"), trusted)
        data["actions"][0]["description"] = "altered after signing"
        cards[f"t{i:04d}"] = data
    return cards


async def test_hundreds_of_cards_all_present_trust_enforced_removals_seen(
    broker_url: str, ns: str
) -> None:
    trusted, stranger = AgentKey.generate(), AgentKey.generate()
    policy = TrustPolicy([TrustRule(keys=[trusted.public_key])], local_keys=False)
    cards = population(ns, trusted, stranger)
    async with fast_bus(broker_url, ns) as publisher:
        await publish_cards(publisher, cards)
        async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus, trust=policy) as registry:
            assert {a.agent_id for a in registry.agents()} == set(cards)
            assert registry.invalid_cards == 0
            # act-0 is claimed by a trusted agent, an untrusted one and a tampered one.
            assert [a.agent_id for a in registry.serving("act-0")] == ["a0000"]
            assert {a.agent_id for a in registry.untrusted("act-0")} == {"o0000", "t0000"}
            tampered = registry.get("t0000")
            assert tampered is not None and "bad signature" in tampered.trust.note
            assert len(registry.action_names()) == TRUSTED
            assert all(registry.serving(f"act-{i}") for i in range(TRUSTED))

            gone = [f"a{i:04d}" for i in range(0, TRUSTED, 3)]
            await asyncio.gather(
                *(publisher.publish(publisher.topics.card(g), b"", retain=True) for g in gone)
            )
            assert await registry.wait_until(
                lambda: all(registry.get(g) is None for g in gone), WAIT
            )
            assert registry.serving("act-0") == []
            assert registry.untrusted("act-0") != []  # the others stay listed
        async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus, trust=policy) as fresh:
            assert {a.agent_id for a in fresh.agents()} == set(cards) - set(gone)


async def test_every_card_arrives_past_the_brokers_queue_limit(tmp_path: Path) -> None:
    """At QoS 1 Mosquitto drops retained cards past max_queued_messages; the registry reads at 0."""
    ns = "queue-limit"
    key = AgentKey.generate()
    cards = {
        f"q{i:04d}": sign_card_data(card_data(f"q{i:04d}", ns, "same"), key) for i in range(400)
    }
    async with MosquittoBroker(extra_config="max_queued_messages 50\n") as broker:
        async with fast_bus(broker.url, ns) as publisher:
            await publish_cards(publisher, cards)
        policy = TrustPolicy([TrustRule(keys=[key.public_key])], local_keys=False)
        async with fast_bus(broker.url, ns) as bus, LiveRegistry(bus, trust=policy) as registry:
            assert len(registry.agents()) == len(cards)
            assert len(registry.serving("same")) == len(cards)


@tool
def echo_a(text: str) -> str:
    """Say a."""
    return f"a:{text}"


@tool
def echo_b(text: str) -> str:
    """Say b."""
    return f"b:{text}"


async def test_a_group_serves_an_agent_per_action_and_replicas(broker_url: str, ns: str) -> None:
    planned = plan_agents(hosted([echo_a, echo_b]), per_action=True, replicas=3)
    assert len(planned) == 6 and len({p.agent_id for p in planned}) == 6

    def connect(agent_id: str, will: Any) -> MqttBus:
        return fast_bus(broker_url, ns, client_id=agent_id, will=will)

    group = AgentGroup(planned, connect, Topics(ns), heartbeat_interval=30.0, connect_limit=2)
    async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus) as registry:
        await group.start()
        try:
            assert await registry.wait_until(lambda: len(registry.agents()) == 6, WAIT)
            for info in registry.agents():
                assert len(info.card.actions) == 1  # each agent its own card, one action
            assert len(registry.serving("echo_a")) == 3 and len(registry.serving("echo_b")) == 3
            a = await registry.remote("echo_a").invoke(
                ActionCall(action="echo_a", arguments={"text": "x"})
            )
            b = await registry.remote("echo_b").invoke(
                ActionCall(action="echo_b", arguments={"text": "y"})
            )
            assert (a.output, b.output) == ("a:x", "b:y")
            assert a.agent in {p.agent_id for p in planned[:3]}
        finally:
            await group.stop(drain_timeout=5.0)
        assert await registry.wait_until(lambda: not registry.agents(), WAIT)


async def test_a_signature_cache_changes_no_verdict_and_a_changed_card_is_checked_again(
    broker_url: str, ns: str, tmp_path: Path
) -> None:
    """``weft agents``' cache: the second listing reads verdicts from it, never wrong ones."""
    trusted, stranger = AgentKey.generate(), AgentKey.generate()
    policy = TrustPolicy([TrustRule(keys=[trusted.public_key])], local_keys=False)
    cards = population(ns, trusted, stranger)
    path = tmp_path / "verified-cards"

    def verdicts(registry: LiveRegistry) -> dict[str, tuple[str, str | None]]:
        return {a.agent_id: (a.trust.label(["act"]), a.trust.signer) for a in registry.agents()}

    async with fast_bus(broker_url, ns) as publisher:
        await publish_cards(publisher, cards)
        async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus, trust=policy) as plain:
            expected = verdicts(plain)  # judged one by one, no cache
        cache = SignatureCache(path)
        async with (
            fast_bus(broker_url, ns) as bus,
            LiveRegistry(bus, trust=policy, signature_cache=cache, verify_ahead=True) as first,
        ):
            first.judge_all()
            assert verdicts(first) == expected
        # Only signatures that verified are kept: the trusted key's and the stranger's.
        assert len(path.read_bytes()) == len(FILE_TAG) + 32 * (TRUSTED + OTHERS)

        cards["a0001"] = json.loads(tampered_copy(cards["a0001"]))
        await publish_cards(publisher, {"a0001": cards["a0001"]})
        warm = SignatureCache(path)
        assert warm.verified(json.dumps(cards["a0002"]).encode())
        async with (
            fast_bus(broker_url, ns) as bus,
            LiveRegistry(bus, trust=policy, signature_cache=warm) as second,
        ):
            second.judge_all()
            now = verdicts(second)
            assert now.pop("a0001") == ("untrusted", None)
            assert now == {k: v for k, v in expected.items() if k != "a0001"}
            assert {a.agent_id for a in second.serving("act-1")} == set()
            assert [a.agent_id for a in second.serving("act-2")] == ["a0002"]
            assert second.get("o0003") is not None
            assert second.get("o0003").trust.label(["act-3"]) == "untrusted"  # type: ignore[union-attr]


def tampered_copy(data: dict[str, Any]) -> str:
    """``data`` with its first action's description changed, its signature kept."""
    copy = json.loads(json.dumps(data))
    copy["actions"][0]["description"] = "altered after signing"
    return json.dumps(copy)
