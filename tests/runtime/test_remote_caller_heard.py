"""A long-lived caller forgets agents it has not heard from for an hour.

``CallClient.heard`` notes when each agent last answered. Agent ids are new
with each ``weft agent serve`` process, so a caller living through many
restarts kept one entry per process it ever heard from. Entries of agents
silent for ``HEARD_KEPT_S`` go once new agents keep arriving; recent ones stay.
"""

from __future__ import annotations

import asyncio

import pytest

from weft.protocols import MessageProperties
from weft.protocols.remote import KIND_HELD, KIND_PROPERTY, CallsHeld
from weft.runtime.bus.inprocess import InProcessBus
from weft.runtime.remote import call_client
from weft.runtime.remote.call_client import HEARD_KEPT_S, CallClient

GENERATIONS = 10
AGENTS_EACH = 100


class Clock:
    """Stands in for the ``time`` module of ``call_client``: wall time the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


async def report(bus: InProcessBus, client: CallClient, agent: str) -> None:
    """An agent's held-calls report (no calls listed): it says the agent is alive."""
    await bus.publish(
        client.reply_topic,
        CallsHeld(agent_id=agent, queued=0, calls=[]).model_dump_json(),
        properties=MessageProperties(
            correlation_data=b"none", user_properties={KIND_PROPERTY: KIND_HELD}
        ),
    )


async def test_agents_silent_for_an_hour_are_forgotten_as_new_ones_arrive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(call_client, "time", clock)
    async with InProcessBus() as bus:
        client = CallClient.for_bus(bus)
        await client.start()
        try:
            for generation in range(GENERATIONS):  # each generation of processes replaces the last
                clock.now += HEARD_KEPT_S + 1
                for i in range(AGENTS_EACH):
                    await report(bus, client, f"agent-{generation}-{i}")
                async with asyncio.timeout(5):
                    while f"agent-{generation}-{AGENTS_EACH - 1}" not in client.heard:
                        await asyncio.sleep(0.001)
            assert len(client.heard) <= 2 * AGENTS_EACH
            # the latest generation is all there
            assert all(f"agent-{GENERATIONS - 1}-{i}" in client.heard for i in range(AGENTS_EACH))
        finally:
            await client.close()
