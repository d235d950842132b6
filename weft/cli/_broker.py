"""The one rule for ``--broker`` and ``$WEFT_BROKER`` in ``run``, ``resume``, ``ask`` and ``route``.

- ``--broker URL`` on the command line means "use the agents there": the
  command connects, and an unreachable broker is an error (exit 2).
- ``$WEFT_BROKER`` alone is a broker to use *when it is needed*: when the
  workflow names an action it does not define (``run``, ``resume``, ``ask
  --workflow``), or when nothing else gives the command agents or cards
  (``ask`` without ``--agents``, ``route`` without ``--cards``, ``--agents``,
  ``--store`` or ``--chroma-url``). A run whose actions are all local never
  touches it, so ``export WEFT_BROKER=...`` does not break local runs once
  that broker stops.

``$WEFT_NAMESPACE`` goes with whichever broker is used. Deciding from what
is named, rather than trying to connect and falling back, keeps a command's
behaviour the same whether the broker is up or down, and costs no timeout.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from weft.protocols import DefinitionError
from weft.protocols.topics import check_namespace


def from_environment(param: str = "broker") -> bool:
    """Whether the current command's ``param`` came from its environment variable."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    return ctx.get_parameter_source(param) is ParameterSource.ENVIRONMENT


def note(message: str) -> None:
    """One ``note:`` line on stderr (stdout stays for results)."""
    click.secho(f"note: {message}", fg="yellow", err=True)


def broker_for_workflow(
    broker: str | None, definition: str | Path | Any, also_local: Iterable[str] = ()
) -> str | None:
    """``broker`` when running ``definition`` needs it per the rule above, else None.

    ``also_local`` names actions the command provides besides the workflow's
    own (``weft ask --agents``). A file that does not load needs no broker: the
    run's compile then reports its problems, all of them.
    """
    if broker is None or not from_environment():
        return broker
    from weft.runtime.remote.distributed import unresolved_actions

    try:
        missing = unresolved_actions(definition) - set(also_local)
    except DefinitionError:  # a file that does not load: the run's compile lists every
        return None  # problem, its actions' too (this reading stops at the first stage)
    if not missing:
        return None
    note(
        f"the workflow does not define {', '.join(sorted(missing))}: "
        "calling the agents on $WEFT_BROKER"
    )
    return broker


def broker_if_alone(broker: str | None, *sources: object) -> str | None:
    """``broker`` unless it comes from the environment and one of ``sources`` is given.

    For commands whose agents (or cards) may come from elsewhere: the
    environment's broker is used only when nothing else was given.
    """
    if broker is None or not from_environment() or not any(sources):
        return broker
    return None


def namespace_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The ``--namespace`` callback: a usage error (exit 2), not a traceback, for a value
    that cannot be one topic level (empty, or with ``/``, ``+``, ``#``)."""
    if value is None:
        return None
    try:
        return check_namespace(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
