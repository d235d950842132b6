"""``weft agent serve`` and ``weft agents``: agents as processes on an MQTT v5 broker.

The broker URL comes from ``--broker``, else ``$WEFT_BROKER``, else
``mqtt://127.0.0.1:1883``; the namespace from ``--namespace``, else
``$WEFT_NAMESPACE``, else ``default``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from weft.protocols import DefinitionError

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


def broker_option(func: Any) -> Any:
    return click.option(
        "--broker",
        envvar="WEFT_BROKER",
        default=DEFAULT_BROKER,
        show_default=True,
        help="MQTT v5 broker URL (env WEFT_BROKER).",
    )(func)


def namespace_option(func: Any) -> Any:
    return click.option(
        "--namespace",
        envvar="WEFT_NAMESPACE",
        default="default",
        show_default=True,
        help="Topic namespace shared by the agents and their callers (env WEFT_NAMESPACE).",
    )(func)


def _load_target(ref: str) -> Any:
    """``module:object`` or ``path/to/file.py:object`` (object may be dotted)."""
    from weft.runtime.engine.compiler import import_object

    module, sep, attr = ref.rpartition(":")
    if sep and module.endswith(".py"):
        path = Path(module)
        if not path.exists():
            raise DefinitionError.single(f"{ref}: no such file {path}")
        sys.path.insert(0, str(path.parent.resolve()))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise DefinitionError.single(f"{ref}: cannot import {path}")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = loaded
        spec.loader.exec_module(loaded)
        obj: Any = loaded
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise DefinitionError.single(f"{path} has no attribute '{attr}'")
            obj = getattr(obj, part)
        return obj
    return import_object(ref)


@click.group("agent")
def agent_group() -> None:
    """Run actions as agents in their own process."""


@agent_group.command("serve")
@click.argument("targets", nargs=-1, required=True)
@broker_option
@namespace_option
@click.option("--pool", help="Pool shared by replicas (default: one pool per action name).")
@click.option("--no-pool", is_flag=True, help="Serve only this agent's own call topic.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Calls served at once.",
)
@click.option("--name", help="Agent id prefix (default: the first action's name).")
@click.option(
    "--agent-id",
    help="Exact agent id, also the MQTT client id (brokers with weft's ACLs expect the "
    "user name); default: --name plus 8 random hex digits.",
)
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    help="Seconds between card refreshes (the heartbeat); a card 1.5 of them old is stale.",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="On SIGTERM, seconds to let calls in flight finish.",
)
@click.option(
    "--path",
    "paths",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra import folder (repeat); the current folder is always included.",
)
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
def serve_command(
    targets: tuple[str, ...],
    broker: str,
    namespace: str,
    pool: str | None,
    no_pool: bool,
    concurrency: int,
    name: str | None,
    agent_id: str | None,
    heartbeat: float,
    drain_timeout: float,
    paths: tuple[str, ...],
    log_level: str,
) -> None:
    """Serve the actions named by TARGETS (module:object, or file.py:object).

    An object may be an action, a @tool or plain function, or a list or dict
    of them. The agent publishes its card (retained, cleared by its Will if
    the process dies), refreshes it every --heartbeat seconds with its load,
    and serves calls until SIGTERM or Ctrl-C, which drain it.
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if agent_id is not None and (not agent_id or any(c in agent_id for c in "/+#\x00")):
        raise click.BadParameter(
            "must be a non-empty topic level: no / + #", param_hint="--agent-id"
        )
    for folder in (*reversed(paths), "."):
        sys.path.insert(0, str(Path(folder).resolve()))
    from weft.runtime.remote.agent_host import hosted

    registry = hosted(_load_target(t) for t in targets)
    asyncio.run(
        _serve(
            registry,
            agent_id,
            broker,
            namespace,
            pool,
            no_pool,
            concurrency,
            name,
            heartbeat,
            drain_timeout,
        )
    )


async def _serve(
    registry: Any,
    agent_id: str | None,
    broker: str,
    namespace: str,
    pool: str | None,
    no_pool: bool,
    concurrency: int,
    name: str | None,
    heartbeat: float,
    drain_timeout: float,
) -> None:
    from weft.protocols import Topics
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.agent_host import AgentHost, agent_will, new_agent_id

    agent_id = agent_id or new_agent_id(name or registry.names()[0])
    will = agent_will(Topics(namespace), agent_id)  # ValueError for an id with / + #
    async with MqttBus(broker, namespace=namespace, client_id=agent_id, will=will) as bus:
        host = AgentHost(
            bus,
            registry,
            agent_id=agent_id,
            pool=pool,
            pooled=not no_pool,
            concurrency=concurrency,
            heartbeat_interval=heartbeat,
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, host.request_stop)
        await host.start()
        pools = sorted(set(host.pools.values()))
        click.echo(
            f"agent {agent_id} serving {', '.join(registry.names())} on {bus.url} "
            f"(namespace {namespace}, pools: {', '.join(pools) or 'none'}, pid {host.card().pid})",
            err=True,
        )
        await host.serve_forever(drain_timeout)
        click.echo(f"agent {agent_id} drained and stopped", err=True)


@click.command("agents")
@broker_option
@namespace_option
@click.option("--json", "as_json", is_flag=True, help="Print the agents' cards as JSON.")
def agents_command(broker: str, namespace: str, as_json: bool) -> None:
    """List the agents serving on the broker: id, actions, load, last seen.

    An agent whose card is older than 1.5 of its heartbeat intervals is
    listed as ``stale`` (hung, frozen or cut off); the age is the card's
    own, not the time since this command received it (docs/protocol.md).
    """
    infos = asyncio.run(_list_agents(broker, namespace))
    now = time.time()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        **info.card.model_dump(mode="json"),
                        "last_seen": info.last_seen,
                        "age": round(info.age(now), 3),
                        "stale": not info.fresh(now),
                        "alive": info.fresh(now) and info.serving,
                    }
                    for info in infos
                ],
                indent=2,
            )
        )
        return
    if not infos:
        click.echo(f"no agents on {broker} (namespace {namespace})")
        return
    rows = [("AGENT", "STATUS", "ACTIONS", "POOLS", "LOAD", "LAST SEEN", "HOST")]
    for info in infos:
        card = info.card
        load = card.load
        rows.append(
            (
                card.agent_id,
                card.status.value if info.fresh(now) else "stale",
                ", ".join(f"{s.name}@{s.version}" for s in card.actions),
                ", ".join(sorted(set(card.pools.values()))) or "-",
                f"{load.in_flight}/{load.capacity}" + (f" +{load.queued}" if load.queued else ""),
                f"{info.age(now):.1f}s ago",
                f"{card.host}:{card.pid}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


async def _list_agents(broker: str, namespace: str) -> list[Any]:
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.live_registry import LiveRegistry

    async with MqttBus(broker, namespace=namespace) as bus, LiveRegistry(bus) as registry:
        return registry.agents()


def register(group: click.Group) -> None:
    group.add_command(agent_group)
    group.add_command(agents_command)
