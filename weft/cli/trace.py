"""``weft trace ls | show | export | view | prune``: a run's spans in the terminal, in files, in a
browser; and deleting old ones.

RUN is a run id, a unique prefix of one, or ``last``. Everything is read from
the local trace store (``$WEFT_HOME/traces.db``, or ``--store``), which
``weft run`` and ``weft resume`` fill.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from weft.cli._json import json_text
from weft.cli._prune import prune_options
from weft.cli._trace_show import CRITICAL_MARK, DEFAULT_ITEMS, STYLE, duration_text
from weft.protocols import WeftError


def _store_option(func: Any) -> Any:
    return click.option(
        "--store",
        "store_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Trace store (SQLite). Default: $WEFT_HOME/traces.db or ./.weft/traces.db.",
    )(func)


def _open_store(path: str | None) -> Any:
    from weft.cli._storage import open_trace_store
    from weft.runtime.support.home import default_trace_path

    target = Path(path) if path else default_trace_path()
    if not target.exists():
        raise WeftError(
            f"no trace store at {target}: run a workflow with `weft run` first "
            "(or point --store / WEFT_HOME at one)"
        )
    return open_trace_store(target)


def _load(store_path: str | None, ref: str, *, open_spans: bool = False) -> tuple[Any, list[Any]]:
    """The run and its spans; ``open_spans``: with stand-ins for those a running run
    has not ended yet (its run span, the nodes holding finished items)."""
    store = _open_store(store_path)
    try:
        run = store.get_run(ref)
        spans = store.spans(run.run_id)
    finally:
        store.close()
    if open_spans and run.state == "running":
        import time

        from weft.runtime.tracing.open_spans import with_open_spans

        spans = with_open_spans(spans, now=time.time(), workflow=run.workflow)
    return run, spans


@click.group("trace")
def trace_group() -> None:
    """Inspect the spans of runs: list, tree, export, browser view; prune old ones."""


@trace_group.command("ls")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@_store_option
def ls_command(limit: int, as_json: bool, store_path: str | None) -> None:
    """List the most recent traced runs."""
    store = _open_store(store_path)
    try:
        runs = store.runs(limit)
    finally:
        store.close()
    if as_json:
        click.echo(
            json_text(
                [
                    {
                        "run_id": r.run_id,
                        "trace_id": r.trace_id,
                        "workflow": r.workflow,
                        "state": r.state,
                        "started_at": r.started_at,
                        "duration_s": r.duration,
                        "spans": r.span_count,
                        "usage": r.usage,
                    }
                    for r in runs
                ],
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("run", "workflow", "state", "started", "duration", "spans", "tokens", "cost"):
        table.add_column(
            column,
            justify="right" if column in ("spans", "tokens", "cost") else "left",
            no_wrap=True,
        )
    for r in runs:
        tokens = int(r.usage.get("prompt_tokens", 0)) + int(r.usage.get("completion_tokens", 0))
        cost = float(r.usage.get("cost") or 0.0)
        table.add_row(
            r.run_id[:12],  # a prefix is enough for show/export/view
            r.workflow or "-",
            f"[{STYLE.get(r.state, 'white')}]{r.state}[/]",
            datetime.fromtimestamp(r.started_at).strftime("%m-%d %H:%M:%S"),
            duration_text(r.duration),
            str(r.span_count),
            str(tokens) if tokens else "-",
            f"${cost:.4f}" if cost else "-",
        )
    if not runs:
        click.echo("no traced runs yet")
        return
    # Piped output is not cut to 80 columns: ids and dates stay whole for scripts.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@trace_group.command("show")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--depth", type=click.IntRange(min=0), default=None, help="Hide spans deeper than this."
)
@click.option(
    "--items",
    type=click.IntRange(min=0),
    default=DEFAULT_ITEMS,
    show_default=True,
    help="Foreach items listed per node (critical, failed, then slowest); 0 lists every item.",
)
@click.option("--full", is_flag=True, help="Every message an LLM was sent and its whole reply.")
@_store_option
def show_command(
    run_ref: str, depth: int | None, items: int, full: bool, store_path: str | None
) -> None:
    """Print RUN's spans as a tree: duration, state, tokens and cost; ★ marks the critical path.

    Under a failed span: its error and traceback; under an LLM request: the
    last message sent and the reply (``--full``: all of them, whole).
    """
    from rich.console import Console
    from rich.text import Text

    from weft.cli._trace_show import ShowTree

    run, spans = _load(store_path, run_ref, open_spans=True)
    heading = Text(f"run {run.run_id}", style="bold")
    heading.append(f"  {run.workflow or ''}  ")
    heading.append(run.state, style=STYLE.get(run.state, "white"))
    heading.append(f"  {duration_text(run.duration)}  {run.span_count} spans")
    root = ShowTree(spans, depth=depth, full=full, items=items, run_id=run.run_id).render(heading)
    tty = sys.stdout.isatty()
    # Piped, lines are never cut or wrapped: a long error or message stays whole for grep.
    console = Console(highlight=False, soft_wrap=not tty, width=None if tty else 10_000)
    console.print(root)
    console.print(
        Text(
            f"{CRITICAL_MARK} critical path: the chain of spans that decided when the run ended",
            style="yellow",
        )
    )


@trace_group.command("export")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["otlp-json", "jsonl", "chrome"]),
    default="otlp-json",
    show_default=True,
    help="otlp-json: OpenTelemetry; jsonl: one span per line; chrome: trace events (Perfetto).",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write here instead of stdout."
)
@_store_option
def export_command(run_ref: str, fmt: str, output: str | None, store_path: str | None) -> None:
    """Export RUN's spans (as stored: truncated, secrets masked)."""
    from weft.cli._storage import write_text
    from weft.runtime.tracing.export import export

    _run, spans = _load(store_path, run_ref)
    text = export(spans, fmt)
    if output:
        write_text(output, text, "the export")
        click.echo(f"wrote {len(spans)} spans to {output}", err=True)
    else:
        sys.stdout.write(text)


@trace_group.command("view")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="HTML file to write. Default: $WEFT_HOME/views/RUN.html.",
)
@click.option("--serve", is_flag=True, help="Also serve it on 127.0.0.1 until Ctrl-C.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port for --serve (0: any).")
@_store_option
def view_command(
    run_ref: str, output: str | None, serve: bool, port: int, store_path: str | None
) -> None:
    """Write RUN as a self-contained HTML page (timeline per agent, DAG, span details)."""
    import asyncio

    from weft.cli._storage import write_text
    from weft.runtime.support.home import weft_home
    from weft.runtime.tracing.html import render_html
    from weft.runtime.tracing.html import serve as serve_html

    run, spans = _load(store_path, run_ref, open_spans=True)
    html = render_html(run, spans)
    target = write_text(
        output or weft_home() / "views" / f"{_file_name(run.run_id)}.html", html, "the HTML view"
    )
    click.echo(f"wrote {target}")
    if not serve:
        return

    def ready(url: str) -> None:
        click.echo(f"serving on {url} (Ctrl-C to stop)")

    try:
        asyncio.run(serve_html(html, "127.0.0.1", port, ready=ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise WeftError(f"cannot serve on 127.0.0.1:{port}: {exc}") from None


@trace_group.command("prune")
@prune_options
@_store_option
def prune_command(
    older_than: float | None,
    keep: int | None,
    dry_run: bool,
    as_json: bool,
    store_path: str | None,
) -> None:
    """Delete the traces of finished runs and shrink the store.

    With --older-than, the trace of a run that never finished (killed, not
    resumed) goes too once nothing has been written to it for that long.
    """
    from weft.cli._prune import before_of, print_report, require_a_rule

    require_a_rule(older_than, keep)
    store = _open_store(store_path)
    try:
        report = store.prune(before=before_of(older_than), keep=keep or 0, dry_run=dry_run)
    finally:
        store.close()
    print_report(report, "the trace store", ("span batch", "span batches"), store.path, as_json)


def register(group: click.Group) -> None:
    group.add_command(trace_group)


def _file_name(run_id: str) -> str:
    """``run_id`` as one file name: a run made from Python may have any id, and
    ``views/`` must hold its page, not a folder its ``/`` or ``..`` make."""
    import re

    name = re.sub(r"[^A-Za-z0-9._-]", "_", run_id).lstrip(".")
    return name or "run"
