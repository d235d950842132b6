"""``weft keys init | show``: the key an agent signs its card with.

``weft agent serve`` creates the default key by itself; these commands are
for seeing it, to put it in the trust list of callers on other machines
(docs/security.md, "Who may serve what"), and for making a key elsewhere
(``--key FILE``) before an agent uses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from weft.protocols import WeftError


def key_option(func: Any) -> Any:
    return click.option(
        "--key",
        "key_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Private key file. Default: $WEFT_HOME/keys/agent.key, else ~/.weft/keys/agent.key.",
    )(func)


def _path(key_path: str | None) -> Path:
    from weft.runtime.support.home import default_key_path

    return Path(key_path) if key_path else default_key_path()


@click.group("keys")
def keys_group() -> None:
    """The Ed25519 key agents sign their cards with, and callers trust."""


@keys_group.command("init")
@key_option
def init_command(key_path: str | None) -> None:
    """Create the key (mode 0600) unless it exists, and print its public key.

    An existing key is never replaced: callers may trust it.
    """
    from weft.runtime.remote.card_signing import AgentKey

    path = _path(key_path)
    if path.exists():
        key = AgentKey.load(path)
        click.echo(f"key {path} exists already", err=True)
    else:
        key = AgentKey.generate()
        try:
            key.save(path)
        except OSError as exc:
            raise WeftError(f"key file {path}: cannot write: {exc.strerror or exc}") from None
        click.echo(f"created {path}", err=True)
    click.echo(key.public_key)


@keys_group.command("show")
@key_option
def show_command(key_path: str | None) -> None:
    """Print the public key (stdout), and how a caller trusts it (stderr)."""
    from weft.runtime.remote.card_signing import AgentKey
    from weft.runtime.support.home import default_trust_path

    path = _path(key_path)
    if not path.exists():
        # The command that creates this very file: with --key, a bare `weft keys init`
        # would create the default key and leave this one missing.
        init = "weft keys init" if key_path is None else f"weft keys init --key {key_path}"
        serve = "weft agent serve" if key_path is None else f"weft agent serve --key {key_path}"
        raise WeftError(
            f"no key at {path}: create it with '{init}' ('{serve}' creates it when it first starts)"
        )
    key = AgentKey.load(path)
    click.echo(key.public_key)
    click.echo(
        f"\nCallers of this user on this machine trust it already. A caller on another "
        f"machine trusts it once this entry is in the trust list of that machine "
        f"(trust.yaml in the caller's key folder, ~/.weft by default, or the file "
        f"$WEFT_TRUST names there; here that is {default_trust_path()}):\n\n"
        f'allow:\n  - actions: "*"\n    keys: ["{key.public_key}"]',
        err=True,
    )


def register(group: click.Group) -> None:
    group.add_command(keys_group)
