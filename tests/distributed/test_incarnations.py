"""Processes of one agent id are told apart by their card's ``incarnation``, not by clocks.

A restarted process whose clock is behind the old one's (another machine, a
clock stepped back) is still the new process: its card replaces the old one
(``restarted``), and a call the old one lost may go to it. A process once
replaced is never taken back. Cards of weft before ``incarnation`` fall back
on ``started_at``, compared for equality.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest_asyncio
from distributed_support import WAIT, fast_bus

from weft.protocols import ActionCall, ActionSpec, AgentCard
from weft.runtime.bus.base import Bus
from weft.runtime.remote._call_state import CallState
from weft.runtime.remote.live_registry import LiveRegistry

AGENT = "stats-fixed"


def card(seq: int, started_at: float, incarnation: str | None) -> AgentCard:
    return AgentCard(
        agent_id=AGENT,
        actions=[ActionSpec(name="stats", description="Count words.")],
        topic=f"weft/x/agents/{AGENT}/call",
        heartbeat_interval=30.0,
        seq=seq,
        started_at=started_at,
        incarnation=incarnation,
    )


class Watched:
    """A registry, the bus cards are published on, and the changes the registry reported."""

    def __init__(self, registry: LiveRegistry, bus: Bus) -> None:
        self.registry = registry
        self.bus = bus
        self.changes: list[str] = []
        registry.listen(lambda change, agent: self.changes.append(change))

    async def publish(self, sent: AgentCard) -> None:
        """Publish ``sent``, retained, then wait until the registry has read it."""
        await self.bus.publish(
            self.bus.topics.card(AGENT),
            sent.model_dump_json().encode(),
            retain=True,
        )
        await self.registry.client.ping(WAIT)  # same connection: the card came before

    async def publish_empty(self) -> None:
        """Clear the card, as a Will or a stopping agent does, and wait until it is read."""
        await self.bus.publish(self.bus.topics.card(AGENT), b"", retain=True)
        await self.registry.client.ping(WAIT)


@pytest_asyncio.fixture
async def watched(broker_url: str, ns: str) -> AsyncIterator[Watched]:
    async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus) as registry:
        yield Watched(registry, bus)


async def test_a_restart_whose_clock_is_behind_replaces_the_old_card(watched: Watched) -> None:
    now = time.time()
    await watched.publish(card(7, now, "old-process"))
    await watched.publish(card(1, now - 3600, "new-process"))  # its clock is an hour behind

    current = watched.registry.get(AGENT)
    assert current is not None and current.card.incarnation == "new-process"
    assert watched.changes == ["appeared", "restarted"]


async def test_a_process_replaced_after_its_card_was_cleared_is_not_taken_back(
    watched: Watched,
) -> None:
    now = time.time()
    await watched.publish(card(7, now - 60, "old-process"))  # it started first
    await watched.publish_empty()  # its Will: the new process took the client id
    await watched.publish(card(1, now, "new-process"))
    await watched.publish(card(8, now - 60, "old-process"))  # it thawed
    await watched.publish(card(2, now, "new-process"))

    current = watched.registry.get(AGENT)
    assert current is not None and current.card.incarnation == "new-process"
    assert current.card.seq == 2
    assert watched.changes == ["appeared", "gone", "appeared", "updated"]


async def test_of_two_twins_taking_the_id_from_each_other_the_newer_is_taken_back(
    watched: Watched,
) -> None:
    # Two processes passed the id check together: each connect fires the other's Will.
    # The older yields (_twin_watch); the registry must then follow the newer one, even
    # though it saw the newer one cleared and replaced by the older in between.
    now = time.time()
    await watched.publish(card(1, now + 1, "newer-twin"))
    await watched.publish_empty()
    await watched.publish(card(1, now, "older-twin"))
    await watched.publish_empty()
    await watched.publish(card(2, now + 1, "newer-twin"))
    await watched.publish(card(2, now, "older-twin"))  # a last card before it yielded

    current = watched.registry.get(AGENT)
    assert current is not None and current.card.incarnation == "newer-twin"
    assert current.card.seq == 2
    assert watched.changes == ["appeared", "gone", "appeared", "gone", "appeared"]


async def test_a_process_returning_after_a_broker_restart_is_the_same_agent(
    watched: Watched,
) -> None:
    now = time.time()
    await watched.publish(card(7, now, "one-process"))
    await watched.publish_empty()  # a broker restart fires every Will
    await watched.publish(card(8, now, "one-process"))

    current = watched.registry.get(AGENT)
    assert current is not None and current.card.seq == 8
    assert watched.changes == ["appeared", "gone", "appeared"]


async def test_a_replayed_card_of_an_earlier_process_is_undone_by_the_next_heartbeat(
    watched: Watched,
) -> None:
    now = time.time()
    await watched.publish(card(7, now, "live-process"))
    await watched.publish(card(30, now - 600, "earlier-process"))  # replayed, no ACL
    await watched.publish(card(8, now, "live-process"))

    current = watched.registry.get(AGENT)
    assert current is not None and current.card.incarnation == "live-process"
    assert watched.changes == ["appeared", "restarted", "restarted"]


async def test_a_replay_of_a_card_already_seen_is_no_news(watched: Watched) -> None:
    now = time.time()
    await watched.publish(card(3, now, "one-process"))
    await watched.publish(card(2, now, "one-process"))

    current = watched.registry.get(AGENT)
    assert current is not None and current.card.seq == 3
    assert watched.changes == ["appeared"]


async def test_cards_without_an_incarnation_are_told_apart_by_started_at(
    watched: Watched,
) -> None:
    now = time.time()
    await watched.publish(card(5, now, None))
    await watched.publish(card(6, now, None))  # a heartbeat of the same process
    await watched.publish(card(1, now - 60, None))  # a restart, clock behind

    current = watched.registry.get(AGENT)
    assert current is not None and current.card.started_at == now - 60
    assert watched.changes == ["appeared", "updated", "restarted"]


async def test_a_call_avoids_only_the_incarnation_that_lost_it(watched: Watched) -> None:
    now = time.time()
    await watched.publish(card(1, now, "lost-it"))
    state = CallState(call=ActionCall(action="stats"), deadline=now + 60, attempt=1)
    info = watched.registry.get(AGENT)
    assert info is not None
    state.incarnation = (AGENT, info.card.incarnation_key)
    state.leave(AGENT)
    assert state.avoids(info)

    # Started in the same clock tick (a coarse clock, containers with one frozen time).
    await watched.publish(card(1, now, "new-process"))
    restarted = watched.registry.get(AGENT)
    assert restarted is not None and not state.avoids(restarted)
