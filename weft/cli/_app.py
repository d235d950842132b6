"""The root click group, error handling, and registration of command modules."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from weft.protocols import WeftError

#: Modules under ``weft.cli`` that define commands; each exposes ``register(group)``.
COMMAND_MODULES = (
    "run",
    "ask",
    "agents",
    "keys",
    "session",
    "broker",
    "trace",
    "route",
    "memory",
    "topology",
    "mcp",
    "a2a",
)


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
@click.option(
    "--log-format",
    type=click.Choice(["json", "console"]),
    envvar="WEFT_LOG_FORMAT",
    help="Structured logs on stderr as JSON lines or console text [env: WEFT_LOG_FORMAT].",
)
@click.option(
    "--log-level",
    envvar="WEFT_LOG_LEVEL",
    help="Log level: debug, info, warning, error [env: WEFT_LOG_LEVEL].",
)
def cli(log_format: str | None, log_level: str | None) -> None:
    """weft: multi-agent orchestration with graph workflows."""
    if log_format or log_level:
        from weft.runtime.support.logging import configure_logging

        try:
            configure_logging(log_format, log_level)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--log-level") from None


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
