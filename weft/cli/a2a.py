"""``weft a2a serve``: weft actions as an A2A agent, over HTTP and over A2A's MQTT binding.

The actions are the TARGETS (``module:object`` or ``file.py:object``, as
``weft agent serve`` takes them) or, with none, every action of the agents
alive on ``--broker`` (each call then goes to an agent over weft's protocol).
``--http HOST:PORT`` serves A2A's JSON-RPC binding (card at
``/.well-known/agent-card.json``); ``--mqtt ORG/UNIT/AGENT`` serves A2A over
MQTT on ``--broker`` (docs/a2a-mqtt.md). SIGTERM or Ctrl-C stops both.
``--token-env VAR`` makes the HTTP agent require the bearer token held in
``$VAR`` (the card stays public); the MQTT side is guarded by the broker.
The HTTP agent sends A2A push notifications to webhooks on public addresses;
``--push-allow HOST[:PORT]`` (repeatable) allows exactly the hosts named
instead (the way to a webhook on loopback or a private network), and
``--no-push`` turns push notifications off. A failed task carries its
error's type and message; the traceback of what the action raised is logged
on stderr, and sent too only with ``--send-tracebacks`` (development).
Each task is a run in the trace store (``weft trace ls``), as a ``weft run``
is; ``--no-trace`` turns that off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from weft.cli._http import host_port, token_env_option, token_from_env
from weft.cli._served_traces import no_trace_option, send_tracebacks_option, served_tracer
from weft.cli._types import Finite
from weft.cli.agents import _load_target, broker_option, namespace_option
from weft.protocols import WeftError


@click.group("a2a")
def a2a_group() -> None:
    """A2A (Agent2Agent): weft actions for A2A clients (docs/interop.md)."""


@a2a_group.command("serve")
@click.argument("targets", nargs=-1)
@click.option("--http", "http_address", metavar="HOST:PORT", help="Serve A2A over HTTP here.")
@token_env_option
@click.option(
    "--push-allow",
    "push_allow",
    metavar="HOST[:PORT]",
    multiple=True,
    help="With --http: send push notifications only to webhooks on this host (any port "
    "without :PORT); repeat for more. Default: webhooks on public addresses only.",
)
@click.option(
    "--no-push",
    is_flag=True,
    default=False,
    help="With --http: no push notifications (the card says pushNotifications: false).",
)
@click.option(
    "--mqtt",
    "mqtt_address",
    metavar="ORG/UNIT/AGENT",
    help="Serve A2A over MQTT on --broker as this agent (docs/a2a-mqtt.md).",
)
@click.option("--pool", help="With --mqtt: also take the requests of this pool (shared).")
@broker_option
@namespace_option
@click.option("--name", help="The agent's name on its card (default: the first action's).")
@send_tracebacks_option
@no_trace_option
@click.option(
    "--wait",
    type=Finite(min=0),
    default=5.0,
    show_default=True,
    help="With no TARGETS: seconds to wait for at least one agent on the broker.",
)
@click.option(
    "--trust",
    "trust_path",
    envvar="WEFT_TRUST",
    type=click.Path(dir_okay=False),
    default=None,
    help="With no TARGETS: trust list of the broker's agents (env WEFT_TRUST; default as "
    "'weft agents').",
)
@click.option(
    "--path",
    "paths",
    multiple=True,
    type=click.Path(file_okay=False, exists=True),
    help="Extra import folder (repeat); the current folder is always included.",
)
def serve_command(
    targets: tuple[str, ...],
    http_address: str | None,
    token_env: str | None,
    push_allow: tuple[str, ...],
    no_push: bool,
    mqtt_address: str | None,
    pool: str | None,
    broker: str,
    namespace: str,
    name: str | None,
    send_tracebacks: bool,
    no_trace: bool,
    wait: float,
    trust_path: str | None,
    paths: tuple[str, ...],
) -> None:
    """Serve TARGETS (or the agents on --broker) to A2A clients until SIGTERM or Ctrl-C.

    Each task is traced as a run (`weft trace ls`) unless --no-trace."""
    # a2a-sdk wraps its every method in an OpenTelemetry span when opentelemetry is
    # installed: measured here, 16 concurrent callers got 46 calls/s with it, 116 without.
    # weft traces calls itself; set the variable to "true" to have the SDK's spans too.
    os.environ.setdefault("OTEL_INSTRUMENTATION_A2A_SDK_ENABLED", "false")
    if not http_address and not mqtt_address:
        raise click.UsageError("give --http HOST:PORT, --mqtt ORG/UNIT/AGENT, or both")
    if pool and not mqtt_address:
        raise click.UsageError("--pool is a pool of A2A over MQTT: give --mqtt ORG/UNIT/AGENT too")
    http = host_port(http_address) if http_address else None
    token = token_from_env(token_env, http is not None)
    push = _push_policy(push_allow, no_push, http is not None)
    address = None
    if mqtt_address:
        from weft.protocols.a2a_mqtt import A2aMqttAddress, check_identifier

        try:
            address = A2aMqttAddress.parse(mqtt_address)
            if pool:
                check_identifier(pool, "pool id")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--mqtt/--pool") from None
    for folder in (*reversed(paths), "."):
        sys.path.insert(0, str(Path(folder).resolve()))
    local = None
    if targets:
        from weft.runtime.remote.agent_host import hosted

        local = hosted(_load_target(t) for t in targets)
    asyncio.run(
        _serve(
            local,
            http,
            token,
            push,
            address,
            pool,
            broker,
            namespace,
            name,
            wait,
            trust_path,
            send_tracebacks,
            trace=not no_trace,
        )
    )


def _push_policy(allow: tuple[str, ...], off: bool, http: bool) -> Any:
    """The ``PushPolicy`` of ``--push-allow`` (``None`` with ``--no-push``); usage errors
    name the option and the entry at fault."""
    if (allow or off) and not http:
        option = "--no-push" if off else "--push-allow"
        raise click.UsageError(
            f"{option} is about the HTTP server's push notifications: give --http HOST:PORT too"
        )
    if off:
        if allow:
            raise click.UsageError("--no-push turns push notifications off: drop --push-allow")
        return None
    from weft.runtime.interop.a2a_push_policy import PushPolicy

    try:
        return PushPolicy(allow)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--push-allow") from None


async def _serve(
    local: Any,
    http: tuple[str, int] | None,
    token: str | None,
    push: Any,
    address: Any,
    pool: str | None,
    broker: str,
    namespace: str,
    name: str | None,
    wait: float,
    trust_path: str | None,
    send_tracebacks: bool = False,
    *,
    trace: bool = True,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        tracer = await stack.enter_async_context(served_tracer(trace, "A2A agent"))
        actions = local
        if actions is None:
            actions = await stack.enter_async_context(
                _broker_actions(broker, namespace, wait, trust_path)
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        names = ", ".join(actions.names())
        if http is not None:
            from weft.runtime.interop.a2a_server import A2aHttpServer

            try:
                server = await stack.enter_async_context(
                    A2aHttpServer(
                        actions,
                        host=http[0],
                        port=http[1],
                        name=name,
                        token=token,
                        push=push is not None,
                        push_allow=push.allow if push is not None else None,
                        send_tracebacks=send_tracebacks,
                        tracer=tracer,
                    )
                )
            except OSError as exc:  # taken, or not an address of this machine
                raise WeftError(
                    f"cannot listen on {http[0]}:{http[1]}: {exc.strerror or exc}"
                ) from None
            guard = ", bearer token required" if token else ""
            guard += f", push notifications to {push.describe()}" if push is not None else ""
            click.echo(f"A2A agent serving {names} at {server.url} (JSON-RPC{guard})", err=True)
        if address is not None:
            from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt

            agent = await stack.enter_async_context(
                serve_a2a_mqtt(
                    actions,
                    broker,
                    address,
                    pool=pool,
                    name=name,
                    send_tracebacks=send_tracebacks,
                    tracer=tracer,
                )
            )
            click.echo(
                f"A2A agent serving {names} over MQTT on {broker} as {address} "
                f"(requests: {agent.address.request_topic}"
                + (f", pool {pool}" if pool else "")
                + ")",
                err=True,
            )
        await stop.wait()
    click.echo("A2A agent stopped", err=True)


@contextlib.asynccontextmanager
async def _broker_actions(broker: str, namespace: str, wait: float, trust_path: str | None) -> Any:
    """Every action of the trusted agents alive on ``broker``, called over weft's protocol."""
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.live_registry import LiveRegistry

    async with (
        MqttBus(broker, namespace=namespace) as bus,
        LiveRegistry(bus, trust=trust_path) as registry,
    ):
        if not registry.action_names():
            await registry.wait_until(lambda: bool(registry.action_names()), wait)
        if not registry.action_names():
            raise WeftError(
                f"no agents on {broker} (namespace {namespace}) after {wait:g}s: "
                "name the actions to serve, or start agents first"
            )
        yield registry.actions()


def register(group: click.Group) -> None:
    group.add_command(a2a_group)
