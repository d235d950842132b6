"""``weft agent serve --a2a``: the agent's actions served over A2A's MQTT binding too, traced.

Each task an A2A client sends the agent is a run in the trace store, as on
``weft a2a serve --mqtt`` and by the same code (``served_trace``, opened by
``_served_traces``): ``SKILL (a2a-mqtt)`` in ``weft trace ls``, with
``served.protocol``, ``served.client`` (the task's context id) and
``served.task``. ``--no-trace`` writes nothing, and a store that cannot be
used is said once on stderr while the agent goes on serving.

Only the A2A side is traced here. A call over weft's own protocol comes from
a weft caller that asks for the agent's spans (``weft-spans: 1``): they go
back with the result and land in the caller's run (``remote._call_trace``),
so the agent host keeps no trace of its own and nothing is stored twice. An
A2A client gets no spans back, so its task is traced where it is served.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import click

from weft.cli._served_traces import served_tracer
from weft.protocols import DefinitionError


def check_a2a_unit(unit: str, pool: str | None) -> None:
    """Refuse a ``--a2a ORG/UNIT`` or ``--a2a-pool`` that is no A2A identifier (exit 2)."""
    from weft.protocols.a2a_mqtt import check_identifier

    org, sep, rest = unit.partition("/")
    try:
        if not sep or "/" in rest:
            raise ValueError(f"{unit!r} is not ORG/UNIT")
        check_identifier(org, "org id")
        check_identifier(rest, "unit id")
        if pool is not None:
            check_identifier(pool, "pool id")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--a2a/--a2a-pool") from None


@contextlib.asynccontextmanager
async def served_over_a2a(
    registry: Any,
    broker: str,
    unit: str,
    agent_id: str,
    *,
    pool: str | None,
    concurrency: int,
    trace: bool,
) -> AsyncIterator[None]:
    """``registry`` served as A2A agent ``UNIT/agent_id`` on ``broker`` while the block runs.

    ``DefinitionError`` for an agent id that is no A2A identifier. The trace
    store is opened only here (an agent without ``--a2a`` does not touch it)
    and closed after the A2A agent has stopped, so the tasks it let finish
    on the way out are committed.
    """
    from weft.protocols.a2a_mqtt import A2aMqttAddress
    from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt

    try:
        org, unit_id = unit.split("/")
        address = A2aMqttAddress(org, unit_id, agent_id)
    except ValueError as exc:
        raise DefinitionError.single(f"--a2a: {exc} (choose --agent-id)") from None
    async with (
        served_tracer(trace, f"agent {agent_id} over A2A") as tracer,
        serve_a2a_mqtt(
            registry, broker, address, pool=pool, concurrency=concurrency, tracer=tracer
        ),
    ):
        click.echo(f"agent {agent_id} also serves A2A over MQTT as {address}", err=True)
        yield
