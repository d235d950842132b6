"""``weft broker``: a local Mosquitto with weft's config, in the foreground.

Why a command for it: the Mosquitto a package manager starts runs its default
config, without ``set_tcp_nodelay``, which makes every call ~44 ms instead of
~0.5 ms (DESIGN.md §5). This one listens on loopback only; for brokers other
machines reach, ``--config-only`` prints the config to start from and
``docs/security.md`` says what to add (users, ACL, TLS). ``--print-acl`` and
``--add-user`` write those files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from weft.protocols import BusError

if TYPE_CHECKING:
    from weft.runtime.bus.mqtt.broker import MosquittoBroker


def _print_acl(
    namespace: str,
    orchestrators: tuple[str, ...],
    callers: tuple[str, ...],
    pool_grants: tuple[str, ...],
) -> None:
    from weft.runtime.bus.mqtt.broker_auth import render_acl

    pools: dict[str, list[str]] = {}
    for grant in pool_grants:
        user, sep, pool = grant.partition("=")
        if not sep or not user or not pool:
            raise click.UsageError(f"--pool {grant!r}: expected USER=POOL")
        pools.setdefault(user, []).append(pool)
    text = render_acl(namespace, orchestrators=orchestrators, callers=callers, pools=pools)
    click.echo(text, nl=False)


def _add_user(password_file: str | None, user: str) -> None:
    from weft.runtime.bus.mqtt.broker_auth import check_username, write_password_file

    if password_file is None:
        raise click.UsageError("--add-user needs --password-file (the file to create or update)")
    check_username(user)
    password = click.prompt(
        f"password for {user}", hide_input=True, confirmation_prompt=True, err=True
    )
    if not password:
        raise BusError("the password must not be empty")
    path = write_password_file(password_file, {user: password})
    click.echo(f"{user} added to {path} (mode 0600); a running Mosquitto rereads it on SIGHUP")


async def _serve(broker: MosquittoBroker) -> None:
    """Run the broker until it exits, or until SIGTERM or Ctrl-C, which stop it.

    SIGTERM is handled like Ctrl-C so that a service manager stopping
    ``weft broker`` does not leave the Mosquitto child running.
    """
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        if main is not None:
            main.cancel()

    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    await broker.start()
    try:
        url = broker.url
        if broker.password_file is not None:
            url = url.replace("://", "://USER:PASSWORD@", 1)
        click.echo(f"weft broker: Mosquitto with weft's config on {broker.url}")
        click.echo(f"  use it with:  export WEFT_BROKER={url}")
        click.echo(f"  config: {broker.config_path}   log: {broker.log_path}")
        click.echo("  Ctrl-C stops it")
        sys.stdout.flush()
        try:
            code = await broker.wait()
        except asyncio.CancelledError:
            if terminated:
                return
            raise
        log = broker.log_path.read_text(errors="replace").strip() if broker.log_path else ""
        if code not in (0, None):
            raise BusError(f"mosquitto exited with code {code}: {log or 'no output'}")
    finally:
        await broker.stop()


def register(group: click.Group) -> None:
    @group.command("broker")
    @click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=1883,
        show_default=True,
        help="Port on 127.0.0.1 (0 picks a free one).",
    )
    @click.option("--config-only", is_flag=True, help="Print the Mosquitto config and exit.")
    @click.option(
        "--password-file",
        type=click.Path(dir_okay=False),
        default=None,
        help="mosquitto_passwd file: clients must log in (anonymous access off).",
    )
    @click.option(
        "--acl-file",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="Mosquitto ACL file (see --print-acl).",
    )
    @click.option(
        "--print-acl",
        is_flag=True,
        help="Print an ACL from weft's template (agents confined to their topics) and exit.",
    )
    @click.option(
        "--namespace",
        default="+",
        show_default=True,
        help="With --print-acl: namespace the ACL covers ('+' = all).",
    )
    @click.option(
        "--orchestrator",
        "orchestrators",
        multiple=True,
        help="With --print-acl: user with full access to weft topics (repeatable; "
        "default: orchestrator).",
    )
    @click.option(
        "--caller",
        "callers",
        multiple=True,
        help="With --print-acl: user that may call agents and pools (repeatable).",
    )
    @click.option(
        "--pool",
        "pool_grants",
        multiple=True,
        metavar="USER=POOL",
        help="With --print-acl: agent USER also serves POOL (repeatable; replicas are "
        "users of their own that share a pool).",
    )
    @click.option(
        "--add-user",
        metavar="USER",
        default=None,
        help="Add or update USER in --password-file (asks for the password) and exit.",
    )
    @click.option(
        "--mosquitto", "binary", metavar="PATH", default=None, help="The mosquitto binary."
    )
    def broker(
        port: int,
        config_only: bool,
        password_file: str | None,
        acl_file: str | None,
        print_acl: bool,
        namespace: str,
        orchestrators: tuple[str, ...],
        callers: tuple[str, ...],
        pool_grants: tuple[str, ...],
        add_user: str | None,
        binary: str | None,
    ) -> None:
        """Run a local Mosquitto with weft's config (TCP_NODELAY, loopback only).

        Prints the URL to use, then runs in the foreground until Ctrl-C.
        """
        from weft.runtime.bus.mqtt.broker import (
            MosquittoBroker,
            free_port,
            port_is_free,
            render_config,
        )

        if binary is not None and not (Path(binary).is_file() and os.access(binary, os.X_OK)):
            # find_mosquitto would go on to $WEFT_MOSQUITTO, PATH and /usr/sbin: a broker of
            # another build than the one asked for, started without a word
            raise click.BadParameter(
                f"{binary!r} is not an executable file", param_hint="'--mosquitto'"
            )
        if print_acl:
            _print_acl(namespace, orchestrators or ("orchestrator",), callers, pool_grants)
            return
        if add_user is not None:
            _add_user(password_file, add_user)
            return
        if password_file is not None and not Path(password_file).is_file():
            raise BusError(
                f"--password-file {password_file}: no such file "
                "(create it with --add-user USER --password-file FILE)"
            )
        if config_only:
            click.echo(
                render_config(
                    port or free_port(),
                    allow_anonymous=password_file is None,
                    password_file=password_file,
                    acl_file=acl_file,
                ),
                nl=False,
            )
            return
        if port and not port_is_free("127.0.0.1", port):
            raise BusError(
                f"127.0.0.1:{port} is already in use, probably by another MQTT broker (a "
                "packaged Mosquitto runs without set_tcp_nodelay: ~44 ms per call); choose "
                "another port with --port N, or --port 0 for a free one"
            )
        server = MosquittoBroker(
            port=port or None,
            allow_anonymous=password_file is None,
            password_file=password_file,
            acl_file=acl_file,
            binary=binary,
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(server))
        click.echo("weft broker: stopped")
