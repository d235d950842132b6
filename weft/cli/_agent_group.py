"""``weft agent serve --agent-per-action`` / ``--replicas N``: many agents in one process.

Kept apart from ``agents.py`` so the single-agent path stays as it was;
``weft.runtime.remote.agent_group`` says why each agent keeps a connection.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click


def ignore_further_stops(loop: asyncio.AbstractEventLoop) -> None:
    """After the drain: a second SIGTERM or Ctrl-C is ignored while the process closes.

    The first one drained the agent; without this, one more arriving after the
    event loop closed (a user pressing Ctrl-C twice, a supervisor repeating
    SIGTERM) met Python's default handlers and the process that had drained
    cleanly ended 143 or 130 instead of 0, which a service manager reads as a
    failed stop. What is left is closing connections, which is bounded.
    """
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)
        signal.signal(signum, signal.SIG_IGN)


async def serve_group(
    registry: Any,
    *,
    broker: str,
    namespace: str,
    per_action: bool,
    replicas: int,
    name: str | None,
    pool: str | None,
    no_pool: bool,
    concurrency: int,
    heartbeat: float,
    drain_timeout: float,
    key: Any,
    **host_options: Any,
) -> None:
    """Serve ``registry``'s actions as the agents ``plan_agents`` makes, until SIGTERM."""
    from weft.protocols import Message, Topics
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.agent_group import AgentGroup, plan_agents
    from weft.runtime.remote.card_signing import short_key

    planned = plan_agents(registry, per_action=per_action, replicas=replicas, name=name)

    def connect(agent_id: str, will: Message) -> MqttBus:
        # Thousands of connections opening at once queue behind each other: a CONNACK or
        # SUBACK may take longer than a lone agent's 5 s, without anything being wrong.
        return MqttBus(
            broker, namespace=namespace, client_id=agent_id, will=will, connect_timeout=30.0
        )

    group = AgentGroup(
        planned,
        connect,
        Topics(namespace),
        pool=pool,
        pooled=not no_pool,
        concurrency=concurrency,
        heartbeat_interval=heartbeat,
        key=key,
        **host_options,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, group.request_stop)
    await group.start()
    click.echo(
        f"{len(planned)} agents serving {len(registry.names())} action(s) on {broker} "
        f"(namespace {namespace}, key {short_key(key.public_key)}); first: "
        f"{planned[0].agent_id}",
        err=True,
    )
    await group.serve_forever(drain_timeout)
    ignore_further_stops(loop)
    click.echo(f"{len(planned)} agents drained and stopped", err=True)
