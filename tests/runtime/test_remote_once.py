"""A remote call runs once unless its holder dies or falls silent (in-process bus, no broker).

Each test bends one agent's bus (acks held back, a result dropped, everything
frozen) and counts how often the action ran. With the pool re-send of old,
the first test ran calls on both replicas.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import weft
from weft.protocols import ActionCall, ActionContext, Message, MessageProperties
from weft.protocols.remote import KIND_ACCEPTED, KIND_HELD, KIND_PROPERTY, KIND_RESULT
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.remote._placement import choose
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.directory import AgentInfo
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.remote.remote_action import RemoteAction

WAIT = 20.0


class BentBus(InProcessBus):
    """An agent's bus whose outgoing messages a test can delay, drop or hold back."""

    def __init__(self, broker: InProcessBroker, **kwargs: Any) -> None:
        super().__init__(broker, **kwargs)
        self.ack_delay = 0.0
        self.drop_results = 0
        self.frozen = False
        self.held_back: list[tuple[str, bytes | str, int, bool, MessageProperties | None]] = []

    async def publish(
        self,
        topic: str,
        payload: bytes | str = b"",
        *,
        qos: int = 1,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> None:
        if self.frozen:
            self.held_back.append((topic, payload, qos, retain, properties))
            return
        kind = properties.user_properties.get(KIND_PROPERTY) if properties else None
        if kind == KIND_ACCEPTED and self.ack_delay:
            await asyncio.sleep(self.ack_delay)
        if kind == KIND_RESULT and self.drop_results:
            self.drop_results -= 1
            return
        await super().publish(topic, payload, qos=qos, retain=retain, properties=properties)

    async def thaw(self) -> None:
        self.frozen = False
        for topic, payload, qos, retain, properties in self.held_back:
            await super().publish(topic, payload, qos=qos, retain=retain, properties=properties)
        self.held_back.clear()


class Ledger:
    """The action under test: counts runs per key and agent; attempt 1 may wait for a gate."""

    def __init__(self, delay: float = 0.0) -> None:
        self.runs: Counter[str] = Counter()
        self.by: list[tuple[str, int, str]] = []  # (key, attempt, idempotency key)
        self.first_started = asyncio.Event()
        self.release_first = asyncio.Event()
        self.release_first.set()

        @weft.tool(name="ledger")
        async def ledger(key: str, ctx: ActionContext) -> str:
            self.runs[key] += 1
            self.by.append((key, ctx.call.attempt, ctx.idempotency_key))
            if ctx.call.attempt == 1:
                self.first_started.set()
                await self.release_first.wait()
            await asyncio.sleep(delay)
            return key

        self.action = ledger


@asynccontextmanager
async def agent(
    broker: InProcessBroker, ledger: Ledger, *, heartbeat: float = 0.1, concurrency: int = 1
) -> AsyncIterator[tuple[AgentHost, BentBus]]:
    async with BentBus(broker) as bus:
        host = AgentHost(
            bus, [ledger.action], concurrency=concurrency, heartbeat_interval=heartbeat
        )
        async with host:
            yield host, bus


async def test_late_acks_never_send_a_call_to_a_second_replica() -> None:
    broker, ledger = InProcessBroker(), Ledger(delay=0.02)
    async with (
        agent(broker, ledger) as (_, first),
        agent(broker, ledger) as (_, second),
        InProcessBus(broker) as caller_bus,
        LiveRegistry(caller_bus, ack_timeout=0.01) as registry,
    ):
        first.ack_delay = second.ack_delay = 0.1  # busy agents: acks come 10 ack windows late
        remote = registry.remote("ledger")
        keys = [f"k{i}" for i in range(11)]  # odd: a round-robin pool would not realign
        results = await asyncio.wait_for(
            asyncio.gather(
                *(remote.invoke(ActionCall(action="ledger", arguments={"key": k})) for k in keys)
            ),
            WAIT,
        )
    assert all(r.ok for r in results)
    assert ledger.runs == Counter(keys)  # each exactly once
    assert len({r.agent for r in results}) == 2, "the calls were spread over both replicas"


async def test_a_held_call_whose_result_was_lost_is_asked_again_with_the_same_attempt() -> None:
    broker, ledger = InProcessBroker(), Ledger()
    async with (
        agent(broker, ledger) as (host, bus),
        InProcessBus(broker) as caller_bus,
        LiveRegistry(caller_bus) as registry,
    ):
        bus.drop_results = 1
        spec = registry.spec("ledger")
        assert spec is not None
        remote = RemoteAction(registry.client, spec, registry=registry, liveness=0.3)
        result = await asyncio.wait_for(
            remote.invoke(ActionCall(action="ledger", arguments={"key": "k"})), WAIT
        )
    assert result.ok and result.agent == host.agent_id
    assert result.attempts is None  # the same attempt, answered from the agent's table
    assert ledger.runs == Counter({"k": 1})


async def test_a_silent_holder_loses_the_call_and_its_late_reply_is_ignored() -> None:
    broker, ledger = InProcessBroker(), Ledger()
    ledger.release_first.clear()
    async with (
        InProcessBus(broker) as caller_bus,
        LiveRegistry(caller_bus) as registry,
        agent(broker, ledger) as (silent, silent_bus),
    ):
        await registry.wait_for(["ledger"], WAIT)
        spec = registry.spec("ledger")
        assert spec is not None
        remote = RemoteAction(registry.client, spec, registry=registry, liveness=0.3)
        tap = await caller_bus.subscribe(registry.client.reply_topic)
        pending = asyncio.create_task(
            remote.invoke(ActionCall(action="ledger", arguments={"key": "k"}))
        )
        await asyncio.wait_for(ledger.first_started.wait(), WAIT)
        silent_bus.frozen = True  # no card, no report, no reply from here on
        async with agent(broker, ledger) as (fresh, _):
            result = await asyncio.wait_for(pending, WAIT)
            ledger.release_first.set()
            await silent_bus.thaw()  # its late reply reaches the caller, which ignores it
        answered_by: list[str | None] = []
        while len(answered_by) < 2:
            message = await tap.get(WAIT)
            if message.properties.user_properties.get(KIND_PROPERTY) == KIND_RESULT:
                answered_by.append(json.loads(message.payload)["agent"])
        await tap.close()
    assert result.ok and result.agent == fresh.agent_id
    assert result.attempts == 2
    assert sorted(answered_by) == sorted([silent.agent_id, fresh.agent_id])
    assert [(key, attempt) for key, attempt, _ in ledger.by] == [("k", 1), ("k", 2)]
    assert ledger.by[0][2] == ledger.by[1][2]  # one idempotency key for both runs


async def test_the_agent_reports_the_calls_it_holds_and_their_place_in_the_queue() -> None:
    broker, ledger = InProcessBroker(), Ledger()
    ledger.release_first.clear()
    async with (
        agent(broker, ledger, heartbeat=0.05) as (host, _),
        InProcessBus(broker) as caller_bus,
    ):
        replies = await caller_bus.subscribe("replies/#")
        kinds: list[tuple[str, Any]] = []
        for i in range(2):
            await caller_bus.publish(
                host.topics.agent_call(host.agent_id),
                ActionCall(
                    call_id=f"c{i}", action="ledger", arguments={"key": f"k{i}"}
                ).model_dump_json(),
                properties=MessageProperties(
                    response_topic="replies/me",
                    correlation_data=f"corr{i}".encode(),
                    user_properties={"weft-ack": "1", "weft-held": "1"},
                ),
            )
        while not any(k == KIND_HELD for k, _ in kinds):
            message: Message = await replies.get(WAIT)
            kind = message.properties.user_properties.get(KIND_PROPERTY, KIND_RESULT)
            kinds.append((kind, message))
        ledger.release_first.set()

    acks = [json.loads(m.payload) for k, m in kinds if k == KIND_ACCEPTED]
    assert [a["position"] for a in acks] == [0, 1]  # concurrency 1: the second one waits
    assert all(a["held_interval"] == 0.05 for a in acks)
    held = json.loads(next(m.payload for k, m in kinds if k == KIND_HELD))
    assert held["agent_id"] == host.agent_id
    assert {c["call_id"] for c in held["calls"]} == {"c0", "c1"}
    assert {bytes.fromhex(c["correlation"]) for c in held["calls"]} == {b"corr0", b"corr1"}


def _info(agent_id: str, *, capacity: int, ratio_queued: int = 0, age: float = 0.0) -> AgentInfo:
    from weft.protocols import AgentCard, AgentLoad

    card = AgentCard(
        agent_id=agent_id,
        actions=[],
        topic=f"weft/t/agents/{agent_id}/call",
        load=AgentLoad(capacity=capacity, queued=ratio_queued),
        heartbeat_interval=1.0,
    )
    return AgentInfo(card=card, first_seen=0.0, last_seen=1000.0 - age)


def test_placement_prefers_fresh_agents_then_the_fewest_outstanding_calls_per_slot() -> None:
    busy = _info("busy", capacity=2)
    idle = _info("idle", capacity=2)
    frozen = _info("frozen", capacity=100, age=10.0)
    outstanding = {"busy": 3, "idle": 1}
    assert choose([busy, idle, frozen], outstanding, now=1000.0) is idle
    assert choose([busy, frozen], outstanding, now=1000.0) is busy  # stale only if no fresh
    assert choose([frozen], {}, now=1000.0) is frozen
    assert choose([], {}, now=1000.0) is None
