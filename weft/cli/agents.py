"""``weft agent serve`` and ``weft agents``: agents as processes on an MQTT v5 broker.

The broker URL comes from ``--broker``, else ``$WEFT_BROKER``, else
``mqtt://127.0.0.1:1883``; the namespace from ``--namespace``, else
``$WEFT_NAMESPACE``, else ``default``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from weft.cli._broker import namespace_value
from weft.cli._json import json_text
from weft.cli._serve_targets import load_target
from weft.cli._types import Finite
from weft.workflows.gc_pause import gc_paused

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"

#: ``weft mcp serve`` and ``weft a2a serve`` take the same targets (``_serve_targets``).
_load_target = load_target


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
        callback=namespace_value,
        default="default",
        show_default=True,
        help="Topic namespace shared by the agents and their callers (env WEFT_NAMESPACE).",
    )(func)


def paths_option(func: Any) -> Any:
    """``--path DIR`` (repeatable): folders to import targets from (``add_import_folders``)."""
    return click.option(
        "--path",
        "paths",
        multiple=True,
        type=click.Path(file_okay=False, exists=True),
        help="Extra import folder (repeat); the current folder is always included.",
    )(func)


def add_import_folders(paths: tuple[str, ...]) -> None:
    """Put ``--path`` folders, then the current folder, first on ``sys.path``."""
    for folder in (*reversed(paths), "."):
        sys.path.insert(0, str(Path(folder).resolve()))


def trust_option(func: Any) -> Any:
    """``--trust FILE``: the trust list callers judge agents' cards by."""
    return click.option(
        "--trust",
        "trust_path",
        envvar="WEFT_TRUST",
        type=click.Path(dir_okay=False),
        default=None,
        help="Trust list (YAML) that says who may serve what (env WEFT_TRUST). Default: "
        "trust.yaml beside this user's keys if present, else this user's own keys only.",
    )(func)


@click.group("agent")
def agent_group() -> None:
    """Run actions as agents in their own process."""


@agent_group.command("serve")
@click.argument("targets", nargs=-1)
@click.option(
    "--mcp",
    "mcp_servers",
    multiple=True,
    metavar="COMMAND|URL",
    help="Also serve the tools of this MCP server (a command line speaking MCP on stdio, "
    "or an http(s):// URL); repeat for more. Each tool's card is built from its description.",
)
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
    "user name); refused while a live process serves it; default: --name plus 8 random "
    "hex digits.",
)
@click.option(
    "--no-id-check",
    is_flag=True,
    help="With --agent-id: skip the check that no live process serves the id (for a broker "
    "with use_username_as_clientid, where the check's own connection would take the id).",
)
@click.option(
    "--heartbeat",
    type=Finite(min=0.05),
    default=5.0,
    show_default=True,
    help="Seconds between card refreshes (the heartbeat); a card 1.5 of them old is stale.",
)
@click.option(
    "--drain-timeout",
    type=Finite(min=0),
    default=30.0,
    show_default=True,
    help="On SIGTERM, seconds to let calls in flight finish.",
)
@click.option(
    "--dedup-calls",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Answered calls remembered, so a re-sent copy gets the answer instead of a new run.",
)
@click.option(
    "--dedup-mb",
    type=click.IntRange(min=1),
    default=128,
    show_default=True,
    help="MB of results those remembered calls may hold; the oldest are forgotten first.",
)
@paths_option
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Private key the card is signed with (created if missing). Default: "
    "$WEFT_HOME/keys/agent.key, else ~/.weft/keys/agent.key.",
)
@click.option(
    "--a2a",
    "a2a_unit",
    metavar="ORG/UNIT",
    help="Also serve the actions over A2A's MQTT binding as agent ORG/UNIT/<agent id> on "
    "the same broker (docs/a2a-mqtt.md).",
)
@click.option("--a2a-pool", help="With --a2a: also take the requests of this A2A pool.")
@click.option(
    "--no-trace",
    is_flag=True,
    help="With --a2a: write no traces. Default: each A2A task is a run in the trace store "
    "($WEFT_HOME/traces.db: `weft trace ls`); weft's own calls are traced by their callers.",
)
@click.option(
    "--agent-per-action",
    is_flag=True,
    help="Serve each action as an agent of its own (own id, card and connection), all in "
    "this process: a module listing 2,500 actions gives 2,500 agents.",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Agents per action set, in this process, pooled (each its own id, card, connection).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
    default="info",
    show_default=True,
    help="Python logging level.",
)
def serve_command(
    targets: tuple[str, ...],
    mcp_servers: tuple[str, ...],
    broker: str,
    namespace: str,
    pool: str | None,
    no_pool: bool,
    concurrency: int,
    name: str | None,
    agent_id: str | None,
    no_id_check: bool,
    heartbeat: float,
    drain_timeout: float,
    dedup_calls: int,
    dedup_mb: int,
    paths: tuple[str, ...],
    key_path: str | None,
    a2a_unit: str | None,
    a2a_pool: str | None,
    no_trace: bool,
    agent_per_action: bool,
    replicas: int,
    log_level: str,
) -> None:
    """Serve the actions named by TARGETS (module:object, file.py:object, or a workflow
    file: flow.yaml for all of its actions, flow.yaml:NAME for one with its tools).

    An object may be an action, a @tool or plain function, or a list or dict
    of them; a workflow file's llm: agents are served as they are. The agent
    publishes its card (retained, cleared by its Will if the process dies,
    signed with --key), refreshes it every --heartbeat seconds with its load,
    and serves calls until SIGTERM or Ctrl-C, which drain it. With --mcp, the
    tools of an MCP server are served too, as actions under their own names
    (docs/interop.md). With --a2a, each A2A task is a run in the trace store
    (`weft trace ls`) unless --no-trace.
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for source in ("weft.runtime.remote.agent_host", "weft.runtime.remote.agent_group"):
        logging.getLogger(source).addFilter(_said_by_the_cli)
    if log_level.lower() == "info":  # one line per model request would drown the agent's own
        for chatty in _HTTP_CLIENT_LOGGERS:
            logging.getLogger(chatty).setLevel(logging.WARNING)
    if agent_id is not None and (not agent_id or any(c in agent_id for c in "/+#\x00")):
        raise click.BadParameter(
            "must be a non-empty topic level: no / + #", param_hint="--agent-id"
        )
    if a2a_unit is not None:
        from weft.cli._agent_a2a import check_a2a_unit

        check_a2a_unit(a2a_unit, a2a_pool)
    add_import_folders(paths)
    from weft.runtime.remote.agent_host import hosted
    from weft.runtime.remote.card_signing import AgentKey

    key = AgentKey.load_or_create(key_path)
    objects = [load_target(t) for t in targets]
    if mcp_servers:
        from weft.agents.mcp_action import from_mcp

        objects += [list(from_mcp(server)) for server in mcp_servers]
    if not objects:
        raise click.UsageError("nothing to serve: give TARGETS, or --mcp COMMAND|URL")
    registry = hosted(objects)
    dedup: dict[str, Any] = {"dedup_size": dedup_calls, "dedup_bytes": dedup_mb * 1024 * 1024}
    if agent_per_action or replicas > 1:
        if agent_id is not None or a2a_unit is not None:
            raise click.UsageError("--agent-id and --a2a serve one agent, not a group")
        from weft.cli._agent_group import serve_group

        asyncio.run(
            serve_group(
                registry,
                broker=broker,
                namespace=namespace,
                per_action=agent_per_action,
                replicas=replicas,
                name=name,
                pool=pool,
                no_pool=no_pool,
                concurrency=concurrency,
                heartbeat=heartbeat,
                drain_timeout=drain_timeout,
                key=key,
                **dedup,
            )
        )
        return
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
            key,
            a2a_unit,
            a2a_pool,
            id_check=not no_id_check,
            dedup=dedup,
            trace=not no_trace,
        )
    )


#: The agent host's and agent group's log records of what ``weft agent serve`` prints
#: itself, with more detail (broker, pools, pid, key): on the terminal they would say each
#: thing twice (once per agent, for ``--replicas`` and ``--agent-per-action``).
_HOST_RECORDS_THE_CLI_PRINTS = frozenset(
    {"agent %s serving %s", "agent %s stopped", "serving %d agents"}
)


#: HTTP clients that log every request at INFO (the model's, an MCP server's): shown at
#: ``--log-level debug`` only, so that a served LLM agent's log says what weft did.
_HTTP_CLIENT_LOGGERS = ("httpx", "httpx2", "httpcore")


def _said_by_the_cli(record: logging.LogRecord) -> bool:
    """Drop the start and stop records; ``serve_command`` prints its own lines."""
    return record.msg not in _HOST_RECORDS_THE_CLI_PRINTS


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
    key: Any,
    a2a_unit: str | None = None,
    a2a_pool: str | None = None,
    *,
    id_check: bool = True,
    dedup: dict[str, Any] | None = None,
    trace: bool = True,
) -> None:
    import contextlib

    from weft.cli._agent_group import ignore_further_stops
    from weft.protocols import Topics
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.agent_host import AgentHost, agent_will, new_agent_id
    from weft.runtime.remote.agent_id_check import check_agent_id
    from weft.runtime.remote.card_signing import short_key

    watch = contextlib.AsyncExitStack()
    probe = None
    if agent_id is not None and id_check:  # a generated id is unique: nobody else has it
        # Kept open: it sees a twin that passed the check at the same moment (_twin_watch).
        try:
            probe = await watch.enter_async_context(MqttBus(broker, namespace=namespace))
            await check_agent_id(probe, agent_id)
        except BaseException:
            await watch.aclose()
            raise
    agent_id = agent_id or new_agent_id(name or registry.names()[0])
    will = agent_will(Topics(namespace), agent_id)  # ValueError for an id with / + #
    async with (
        watch,
        MqttBus(broker, namespace=namespace, client_id=agent_id, will=will) as bus,
    ):
        host = AgentHost(
            bus,
            registry,
            agent_id=agent_id,
            pool=pool,
            pooled=not no_pool,
            concurrency=concurrency,
            heartbeat_interval=heartbeat,
            key=key,
            check_id=False,  # checked above, before this connection took the id
            twin_watch=probe,
            **(dedup or {}),
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, host.request_stop)
        await host.start()
        a2a = contextlib.AsyncExitStack()
        if a2a_unit is not None:  # traced unless --no-trace: _agent_a2a
            from weft.cli._agent_a2a import served_over_a2a

            a2a_served = served_over_a2a(
                registry,
                broker,
                a2a_unit,
                agent_id,
                pool=a2a_pool,
                concurrency=concurrency,
                trace=trace,
            )
            await a2a.enter_async_context(a2a_served)
        pools = sorted(set(host.pools.values()))
        click.echo(
            f"agent {agent_id} serving {', '.join(registry.names())} on {bus.url} "
            f"(namespace {namespace}, pools: {', '.join(pools) or 'none'}, pid {host.card().pid}, "
            f"key {short_key(key.public_key)})",
            err=True,
        )
        async with a2a:
            await host.serve_forever(drain_timeout)
        ignore_further_stops(loop)
        click.echo(f"agent {agent_id} drained and stopped", err=True)


@click.command("agents")
@broker_option
@namespace_option
@click.option("--json", "as_json", is_flag=True, help="Print the agents' cards as JSON.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "a2a"]),
    default="table",
    show_default=True,
    help="table; json (as --json); a2a: one A2A AgentCard per agent, a JSON list "
    "(docs/interop.md).",
)
@trust_option
def agents_command(
    broker: str, namespace: str, as_json: bool, output_format: str, trust_path: str | None
) -> None:
    """List the agents serving on the broker: id, actions, load, last seen, trust.

    An agent whose card is older than 1.5 of its heartbeat intervals is
    listed as ``stale`` (hung, frozen or cut off); the age is the card's
    own, not the time since this command received it (docs/protocol.md).
    An agent whose card is not signed by a key the trust list accepts for
    an action is listed ``untrusted`` (or ``partly``) and is never called
    for it (docs/security.md).
    """
    # A short-lived process building thousands of cards and rows, none of them in a
    # reference cycle: the cyclic collector would only walk them again and again
    # (0.57 s against 0.24 s for the JSON of 10,000 cards, bench/topologies.py). It is
    # back on when the command's context closes (a CliRunner in tests keeps the process).
    if as_json and output_format == "a2a":
        raise click.UsageError("--json is --format json: give it or --format a2a, not both")
    click.get_current_context().with_resource(gc_paused())
    infos = asyncio.run(_list_agents(broker, namespace, trust_path))
    now = time.time()
    if output_format == "a2a":
        from weft.protocols.a2a import weft_agent_to_a2a

        cards = [
            weft_agent_to_a2a(info.card, broker_url=broker, namespace=namespace) for info in infos
        ]
        click.echo(json_text(cards, indent=2))
        return
    if as_json or output_format == "json":
        _echo_cards_json(infos, now)
        return
    if not infos:
        click.echo(f"no agents on {broker} (namespace {namespace})")
        return
    rows = [("AGENT", "STATUS", "TRUST", "ACTIONS", "POOLS", "LOAD", "LAST SEEN", "HOST")]
    notes = []
    for info in infos:
        card = info.card
        load = card.load
        trust = info.trust.label([s.name for s in card.actions])
        if trust != "trusted":
            notes.append(f"  {card.agent_id}: {info.trust.note}")
        rows.append(
            (
                card.agent_id,
                card.status.value if info.fresh(now) else "stale",
                trust.replace("partly trusted", "partly"),
                ", ".join(f"{s.name}@{s.version}" for s in card.actions),
                ", ".join(sorted(set(card.pools.values()))) or "-",
                f"{load.in_flight}/{load.capacity}" + (f" +{load.queued}" if load.queued else ""),
                f"{info.age(now):.1f}s ago",
                _host_cell(card.host, card.pid),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if notes:
        click.echo("\nnot called for the actions they are not trusted for (docs/security.md):")
        for note in notes:
            click.echo(note)


def _host_cell(host: str, pid: int | None) -> str:
    """``HOST:PID``, or what of it the card gives (an agent in another language may give
    neither): ``HOST``, ``pid PID``, or ``-``."""
    if host and pid is not None:
        return f"{host}:{pid}"
    if host:
        return host
    return f"pid {pid}" if pid is not None else "-"


def _card_document(info: Any, now: float) -> dict[str, Any]:
    """One agent in ``--json``: its card, with when it was seen and this caller's verdict."""
    actions = [s.name for s in info.card.actions]
    return {
        **info.card.model_dump(mode="json"),
        "last_seen": info.last_seen,
        "age": round(info.age(now), 3),
        "stale": not info.fresh(now),
        "alive": info.fresh(now) and info.serving,
        "trust": info.trust.label(actions),
        "trusted_actions": [name for name in actions if info.trust.allows(name)],
        "trust_note": info.trust.note,
    }


#: Cards turned into JSON at a time by ``_echo_cards_json``.
_JSON_SLICE = 256


def _echo_cards_json(infos: list[Any], now: float) -> None:
    """Print the agents as one indented JSON list (``json_text``'s strict JSON: NaN as null,
    unknown values as text), written by orjson a slice of cards at a time.

    Why: ``json.dumps`` with ``indent`` falls back to its pure-Python encoder
    (12 s for 10,000 cards, orjson 0.1 s), and those cards are 40 MB of JSON:
    building every card's object, then the whole text, then a copy with the
    newline held it all at once. Each newline orjson writes lies between
    tokens (one in a string is escaped), so indenting a card's text one
    level gives the bytes that dumping the whole list would.
    """
    import orjson

    sys.stdout.flush()
    out = sys.stdout.buffer
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    lead = b"[\n  "
    for start in range(0, len(infos), _JSON_SLICE):
        texts = (
            orjson.dumps(_card_document(info, now), option=option, default=str).replace(
                b"\n", b"\n  "
            )
            for info in infos[start : start + _JSON_SLICE]
        )
        out.write(lead + b",\n  ".join(texts))
        lead = b",\n  "
    out.write(b"\n]\n" if infos else b"[]\n")
    out.flush()


async def _list_agents(broker: str, namespace: str, trust_path: str | None) -> list[Any]:
    import logging

    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.card_verifier import SignatureCache
    from weft.runtime.remote.live_registry import UNTRUSTED_WARNING, LiveRegistry
    from weft.runtime.remote.trust import TrustPolicy

    trust = TrustPolicy.load(trust_path)  # a bad file: one line, exit 2, before connecting
    # The table says which agents are untrusted; the registry's warnings would repeat it.
    registry_log = logging.getLogger("weft.runtime.remote.live_registry")

    def quiet(record: logging.LogRecord) -> bool:
        return record.msg != UNTRUSTED_WARNING

    registry_log.addFilter(quiet)
    try:
        async with (
            MqttBus(broker, namespace=namespace) as bus,
            # The cache makes a second listing check only the cards that changed.
            LiveRegistry(
                bus, trust=trust, signature_cache=SignatureCache(), verify_ahead=True
            ) as registry,
        ):
            registry.judge_all()  # the trust column, with the registry's warnings quiet
            return registry.agents()
    finally:
        registry_log.removeFilter(quiet)


def register(group: click.Group) -> None:
    group.add_command(agent_group)
    group.add_command(agents_command)
