"""The root click group, error handling, and registration of command modules."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from weft.protocols import WeftError

#: Commands that run tools in worker threads and may call models: a bad ``$WEFT_THREADS``,
#: ``$WEFT_MODEL_TIMEOUT`` or ``$WEFT_MAX_TOKENS`` is refused before they start (exit 2),
#: not found by every ``def`` tool's or LLM node's call as a node failure.
_RUNS_TOOLS = frozenset({"run", "resume", "ask", "agent", "mcp", "a2a"})

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

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Find the subcommand; one that runs tools first checks ``$WEFT_THREADS``.

        Checked here, before the command's own parsing, so that a bad value is one
        line and exit 2 before anything runs; not when the command is only asked
        for its ``--help`` (or completed by the shell).
        """
        name, command, rest = super().resolve_command(ctx, args)
        asks_help = any(arg in ctx.help_option_names for arg in rest)
        if name in _RUNS_TOOLS and not asks_help and not ctx.resilient_parsing:
            from weft.agents.chat_settings import check_env_numbers
            from weft.agents.worker_threads import worker_threads

            worker_threads()  # WeftError naming WEFT_THREADS when it is no whole number >= 1
            check_env_numbers()  # and WEFT_MODEL_TIMEOUT / WEFT_MAX_TOKENS
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WeftError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM in run/ask/resume
            from weft.cli._stops import how_stopped

            word, status = how_stopped(exc)
            click.secho(word, fg="yellow", err=True)
            sys.exit(status)


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
