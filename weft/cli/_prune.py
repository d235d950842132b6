"""What ``weft runs prune`` and ``weft trace prune`` share: their options and their report."""

from __future__ import annotations

import re
import time
from typing import Any

import click

from weft.cli._json import json_text

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``7d``, ``12h``, ``30m``, ``90s``, ``2w`` or ``1d12h``;
    ``ValueError`` for anything else."""
    cleaned = text.strip().lower()
    parts = _PART.findall(cleaned)
    if not parts or "".join(number + unit for number, unit in parts) != cleaned:
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit, s m h d or w "
            "(e.g. 7d, 12h, 30m, 1d12h)"
        )
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def prune_options(func: Any) -> Any:
    """``--older-than``, ``--keep``, ``--dry-run`` and ``--json``."""
    func = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(func)
    func = click.option(
        "--dry-run", is_flag=True, help="Only say what would be deleted; delete nothing."
    )(func)
    func = click.option(
        "--keep",
        type=click.IntRange(min=0),
        default=None,
        help="Keep the N most recently started runs, whatever their age.",
    )(func)
    return click.option(
        "--older-than",
        metavar="DURATION",
        callback=_duration,
        default=None,
        help="Delete finished runs that finished longer ago than this (7d, 12h, 30m...).",
    )(func)


def before_of(older_than: float | None) -> float | None:
    """The time before which a run must have finished to be ``older_than`` seconds old."""
    return None if older_than is None else time.time() - older_than


def require_a_rule(older_than: float | None, keep: int | None) -> None:
    """Refuse a prune that says neither which age nor how many to keep: it would empty the store."""
    if older_than is None and keep is None:
        raise click.UsageError("say what to prune: --older-than DURATION and/or --keep N")


def _size(count: int) -> str:
    if count >= 2**20:
        return f"{count / 2**20:,.1f} MB"
    if count >= 1024:
        return f"{count / 1024:,.1f} KB"
    return f"{count} B"


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def print_report(report: Any, what: str, rows: tuple[str, str], path: Any, as_json: bool) -> None:
    """``report`` (a ``PruneReport``) as one line, or as JSON. ``what`` names the store,
    ``rows`` the rows deleted besides runs, singular and plural (``event``, ``events``)."""
    if as_json:
        click.echo(
            json_text(
                {
                    "store": str(path),
                    "dry_run": report.dry_run,
                    "runs": report.runs,
                    rows[1].replace(" ", "_"): report.rows,
                    "bytes_before": report.bytes_before,
                    "bytes_after": report.bytes_after,
                    "freed_bytes": report.freed_bytes,
                    "compacted": report.compacted,
                    "run_ids": report.run_ids,
                },
                indent=2,
            )
        )
        return
    runs = f"{_count(report.runs, 'run', 'runs')} ({_count(report.rows, *rows)})"
    if report.dry_run:
        click.echo(f"would delete {runs} from {what} {path} ({_size(report.bytes_before)})")
        return
    click.echo(
        f"deleted {runs} from {what} {path}: freed {_size(report.freed_bytes)} "
        f"({_size(report.bytes_before)} -> {_size(report.bytes_after)})"
    )
    if not report.compacted:
        click.secho(
            f"{what} was busy (another process is writing): the freed space is reused by new "
            "runs, and the file shrinks at the next prune",
            fg="yellow",
            err=True,
        )
