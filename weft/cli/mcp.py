"""``weft mcp serve``: weft actions as an MCP server, for IDEs and other agent frameworks.

Its actions are the ones named on the command line (``module:object`` or
``file.py:object``, as ``weft agent serve`` takes them), and with
``--broker`` every action a trusted agent on that broker serves now (read
again at each request, so agents that start later are listed too). It
speaks MCP on stdin/stdout by default, as an MCP client that starts it
expects, or streamable HTTP with ``--http HOST:PORT`` (at ``/mcp``), which
``--token-env VAR`` guards with the bearer token held in ``$VAR``.
With ``--broker`` the tools change as agents come and go, and clients
listening for changes hear ``notifications/tools/list_changed``.
A failed call is sent as its error's type and message; the traceback of what
the action raised is logged on stderr, and sent too only with
``--send-tracebacks`` (development).
Each action's spec and capability card is a resource, ``weft://cards/{tool}``;
no prompts are offered (``weft.runtime.interop.mcp_server`` says why).
Each call is a run in the trace store (``weft trace ls``), as a ``weft run``
is; ``--no-trace`` turns that off.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import click

from weft.cli._http import host_port, token_env_option, token_from_env
from weft.cli._served_traces import no_trace_option, send_tracebacks_option, served_tracer
from weft.cli.agents import (
    _load_target,
    add_import_folders,
    namespace_option,
    paths_option,
    trust_option,
)


@click.group("mcp")
def mcp_group() -> None:
    """MCP interop: serve weft actions to MCP clients."""


@mcp_group.command("serve")
@click.argument("targets", nargs=-1)
@click.option(
    "--broker",
    default=None,
    help="Also serve every action a trusted agent on this MQTT v5 broker serves.",
)
@namespace_option
@click.option(
    "--http",
    "http_address",
    metavar="HOST:PORT",
    default=None,
    help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (port 0: any).",
)
@token_env_option
@click.option("--name", default="weft", show_default=True, help="The server's name for clients.")
@send_tracebacks_option
@no_trace_option
@trust_option
@paths_option
def serve_command(
    targets: tuple[str, ...],
    broker: str | None,
    namespace: str,
    http_address: str | None,
    token_env: str | None,
    name: str,
    send_tracebacks: bool,
    no_trace: bool,
    trust_path: str | None,
    paths: tuple[str, ...],
) -> None:
    """Serve the actions named by TARGETS (and --broker's agents) as MCP tools.

    Each action is a tool with its name, description and input schema; a
    failed call is a tool result with isError; its spec and capability card
    is the JSON resource weft://cards/TOOL. With --broker, clients that
    listen are told when the tools change (agents start or stop). Without
    --http it speaks MCP on stdin/stdout: configure an MCP client to start
    `weft mcp serve mymodule:tools`. Status lines go to stderr. Each call
    is traced as a run (`weft trace ls`) unless --no-trace.
    """
    if not targets and broker is None:
        raise click.UsageError("nothing to serve: give TARGETS (module:object), or --broker URL")
    address = host_port(http_address) if http_address is not None else None
    token = token_from_env(token_env, address is not None)
    # stdout carries MCP's messages on stdio: logs go to stderr only.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    wire = None
    if address is None:  # and what the actions print too, from their import on
        from weft.runtime.interop.mcp_server import claim_stdout

        wire = claim_stdout()
    add_import_folders(paths)
    from weft.runtime.remote.agent_host import hosted

    local = hosted(_load_target(t) for t in targets)
    asyncio.run(
        _serve(
            local,
            broker,
            namespace,
            address,
            token,
            name,
            trust_path,
            wire,
            send_tracebacks,
            trace=not no_trace,
        )
    )


async def _serve(
    local: Any,
    broker: str | None,
    namespace: str,
    address: tuple[str, int] | None,
    token: str | None,
    name: str,
    trust_path: str | None,
    wire: BinaryIO | None = None,
    send_tracebacks: bool = False,
    *,
    trace: bool = True,
) -> None:
    from weft.runtime.interop.mcp_server import McpActionServer

    async with contextlib.AsyncExitStack() as stack:
        tracer = await stack.enter_async_context(served_tracer(trace, "weft mcp"))
        make = functools.partial(
            McpActionServer, name=name, token=token, send_tracebacks=send_tracebacks, tracer=tracer
        )
        if broker is None:
            await _run(make(local), address, wire)
            return
        from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
        from weft.runtime.engine.action_table import ActionTable
        from weft.runtime.remote.live_registry import LiveRegistry
        from weft.runtime.remote.trust import TrustPolicy

        trust = TrustPolicy.load(trust_path)
        bus = await stack.enter_async_context(MqttBus(broker, namespace=namespace))
        live = await stack.enter_async_context(LiveRegistry(bus, trust=trust))

        def actions() -> ActionTable:
            table = live.actions()
            for action_name, action in local.items():
                table.register(action, name=action_name, replace=True)  # local ones win
            return table

        server = make(actions)

        def changes(changed: Callable[[], None]) -> Callable[[], None]:
            return live.listen(lambda _change, _agent: changed())

        # agents that start, stop or change their cards change the tools: clients hear it
        follow = asyncio.create_task(server.follow(changes), name="weft-mcp follow")
        try:
            await _run(server, address, wire)
        finally:
            follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follow


async def _run(server: Any, address: tuple[str, int] | None, wire: BinaryIO | None) -> None:
    if address is None:
        click.echo(f"weft mcp: serving {_names(server)} on stdio", err=True)
        await server.run_stdio(wire)
        return

    def ready(url: str) -> None:
        guard = " (bearer token required)" if server.token_required else ""
        click.echo(f"weft mcp: serving {_names(server)} at {url}{guard}", err=True)

    await server.run_http(*address, ready=ready)


def _names(server: Any) -> str:
    names = server.actions().names()
    return ", ".join(names) if names else "no actions yet"


def register(cli: click.Group) -> None:
    cli.add_command(mcp_group)
