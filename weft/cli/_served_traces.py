"""The trace store of ``weft mcp serve``, ``weft a2a serve`` and ``weft agent serve --a2a``
(``_agent_a2a``), and their ``--no-trace``.

A served call is traced as a ``weft run`` is (``weft.runtime.interop.served_trace``):
into ``$WEFT_HOME/traces.db``, plus OTLP when configured, on by default.
``--no-trace`` writes nothing, as ``WEFT_RECORD=0`` does for runs made from
Python; a store that cannot be used is said on stderr, and the server serves
untraced. The store is opened inside the server's event loop (its flush timer
runs there) and closed when the server stops, after what it was handed is
committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import click

no_trace_option = click.option(
    "--no-trace",
    is_flag=True,
    default=False,
    help="Write no traces. Default: each served call is a run in the trace store "
    "($WEFT_HOME/traces.db: `weft trace ls`).",
)
#: ``weft mcp serve`` and ``weft a2a serve``: what a failed call's client is sent.
send_tracebacks_option = click.option(
    "--send-tracebacks",
    is_flag=True,
    default=False,
    help="Send clients the traceback of a failed call (development: it shows this "
    "server's files and source). Default: logged on stderr, not sent.",
)


@contextlib.asynccontextmanager
async def served_tracer(trace: bool, who: str) -> AsyncIterator[Any]:
    """The tracer of the served calls while the block runs (None with ``--no-trace``).

    A store that cannot be used (an unwritable folder: an MCP client may start
    the server in ``/``, with no ``WEFT_HOME``) does not stop the server from
    serving: ``who`` says on stderr that it does not trace, and why.
    """
    if not trace:
        yield None
        return
    from weft.runtime.interop.served_trace import open_served_tracer
    from weft.runtime.support.storage import StorageError

    try:
        tracer = open_served_tracer()
    except StorageError as exc:
        click.echo(f"{who}: not tracing the calls it serves: {exc}", err=True)
        yield None
        return
    try:
        yield tracer
    finally:
        tracer.close()
