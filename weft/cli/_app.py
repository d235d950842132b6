"""The root click group, error handling, and registration of command modules."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from weft.protocols import WeftError

#: Modules under ``weft.cli`` that define commands; each exposes ``register(group)``.
COMMAND_MODULES = ("run",)


class WeftGroup(click.Group):
    """Turns ``WeftError`` into one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WeftError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.secho("interrupted", fg="yellow", err=True)
            sys.exit(130)


@click.group(cls=WeftGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="weft")
def cli() -> None:
    """weft: multi-agent orchestration with graph workflows."""


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"weft.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"weft.cli.{name}":
                continue
            raise
        module.register(cli)


_register_commands()


def main() -> None:
    cli(prog_name="weft")
