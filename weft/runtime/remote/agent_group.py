"""Many agents in one process: what ``weft agent serve --agent-per-action`` and
``--replicas N`` run.

Each agent stays a whole ``AgentHost``: its own bus connection, Will, card,
call topics and concurrency. That is what lets the broker clear the card of
each agent when the process dies (MQTT fixes one Will per connection), so a
caller sees every agent of a crashed process *gone*, not merely stale, and
what keeps a slow action of one agent from holding up another. A connection
costs about 0.1 MB and 2 ms to open; 2,500 agents per process is ordinary
(bench/topologies.py serves 10,000 from four processes).

``plan_agents`` decides who serves what; ``AgentGroup`` connects, starts,
serves and drains them together. Connections open at most ``connect_limit``
at a time, so a large group does not flood the broker's accept queue, and an
agent whose connection or subscription times out (a loaded machine opening
thousands) is tried again, up to ``attempts`` times, before the group gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from weft.protocols import BusError, Message, Topics
from weft.runtime.bus.base import Bus
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.remote.agent_host import AgentHost, agent_will, new_agent_id

log = logging.getLogger(__name__)

#: ``factory(agent_id, will)``: a bus, not yet started, that connects as ``agent_id``
#: with ``will`` as its Will (``MqttBus(url, client_id=agent_id, will=will)``).
BusFactory = Callable[[str, Message], Bus]


@dataclass(frozen=True)
class PlannedAgent:
    """One agent of a group: its id and the actions it serves."""

    agent_id: str
    actions: ActionRegistry


def plan_agents(
    registry: ActionRegistry,
    *,
    per_action: bool = False,
    replicas: int = 1,
    name: str | None = None,
) -> list[PlannedAgent]:
    """Who serves what: one agent per action (``per_action``) or one for all of them,
    each ``replicas`` times.

    Ids are ``{name or action}-{8 hex}``, as ``weft agent serve`` names a
    single agent; replicas of one action pool under its name (the default
    pool), so calls to the pool spread over them.
    """
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas}")
    names = registry.names()
    if per_action:
        prefix = f"{name}-" if name else ""
        groups = [(prefix + a, ActionRegistry({a: registry.get(a)})) for a in names]
    else:
        groups = [(name or names[0], registry)]
    return [
        PlannedAgent(new_agent_id(base), actions)
        for base, actions in groups
        for _ in range(replicas)
    ]


class AgentGroup:
    """Agents served together by one process; see the module docstring.

    ``host_options`` go to every ``AgentHost`` (``pool``, ``pooled``,
    ``concurrency``, ``heartbeat_interval``, ``key``, ...). Use
    ``await group.start()``, then ``serve_forever()`` (or ``stop()``).
    """

    def __init__(
        self,
        planned: Sequence[PlannedAgent],
        bus_factory: BusFactory,
        topics: Topics,
        *,
        connect_limit: int = 32,
        attempts: int = 3,
        **host_options: Any,
    ) -> None:
        if not planned:
            raise ValueError("a group needs at least one agent")
        ids = [p.agent_id for p in planned]
        if len(set(ids)) != len(ids):
            raise ValueError("agent ids in a group must be unique")
        self.planned = list(planned)
        self.bus_factory = bus_factory
        self.topics = topics
        self.connect_limit = connect_limit
        self.attempts = attempts
        # Planned ids are generated (``new_agent_id``), unique: checking each of thousands
        # of agents for another live holder would cost a round trip apiece for nothing.
        self.host_options = {"check_id": False, **host_options}
        self.hosts: list[AgentHost] = []
        self._buses: list[Bus] = []
        self._stop_requested = asyncio.Event()

    async def start(self) -> None:
        """Connect and start every agent; on any failure, stop those already started."""
        limit = asyncio.Semaphore(self.connect_limit)

        async def start_one(plan: PlannedAgent) -> None:
            for attempt in range(1, self.attempts + 1):
                async with limit:
                    bus = self.bus_factory(plan.agent_id, agent_will(self.topics, plan.agent_id))
                    try:
                        await bus.start()
                        host = AgentHost(
                            bus, plan.actions, agent_id=plan.agent_id, **self.host_options
                        )
                        await host.start()
                    except BusError as exc:
                        with contextlib.suppress(Exception):
                            await bus.close()
                        if attempt == self.attempts:
                            raise
                        log.warning("agent %s: %s; trying again", plan.agent_id, exc)
                        continue
                self._buses.append(bus)
                self.hosts.append(host)
                return

        try:
            await asyncio.gather(*(start_one(p) for p in self.planned))
        except BaseException:
            await self.stop(drain_timeout=0.0)
            raise
        log.info("serving %d agents", len(self.hosts))

    def request_stop(self) -> None:
        """Ask ``serve_forever`` to drain and return (safe from a signal handler)."""
        self._stop_requested.set()

    async def serve_forever(self, drain_timeout: float = 30.0) -> None:
        await self._stop_requested.wait()
        await self.stop(drain_timeout)

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Drain every agent at once (each clears its card), then close the connections."""
        hosts, self.hosts = self.hosts, []
        await asyncio.gather(*(h.stop(drain_timeout) for h in hosts), return_exceptions=True)
        buses, self._buses = self._buses, []
        for bus in buses:
            with contextlib.suppress(Exception):  # closing what failed to start may fail too
                await bus.close()
