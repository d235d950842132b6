"""``weft runs prune`` and ``weft trace prune``: what they delete and print, what they refuse."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.cli._prune import parse_duration
from weft.protocols import RunState
from weft.runtime import Journal
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore

DAY = 86400.0


def weft(tmp_path: Path, *argv: str) -> Result:
    return CliRunner().invoke(cli, list(argv), env={"WEFT_HOME": str(tmp_path)})


def journal_with_runs(tmp_path: Path) -> Path:
    """``old`` finished two days ago, ``new`` just now, ``running`` is still running."""
    path = tmp_path / "journal.db"
    with closing(Journal(path)) as journal:
        for run_id in ("old", "new"):
            lease = journal.start_run(run_id, "wf", None, "h", {"pad": "p" * 20_000})
            journal.end_run(lease, RunState.SUCCEEDED, {"out": 1})
        journal.start_run("running", "wf", None, "h", {})
    with closing(sqlite3.connect(path)) as db:
        db.execute(
            "UPDATE runs SET started_at = started_at - ?, finished_at = finished_at - ?"
            " WHERE run_id = 'old'",
            (2 * DAY, 2 * DAY),
        )
        db.commit()
    return path


def run_ids(path: Path) -> set[str]:
    with closing(Journal(path)) as journal:
        return {r.run_id for r in journal.list_runs(limit=100)}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * DAY),
        ("12h", 43200),
        ("30m", 1800),
        ("90s", 90),
        ("2w", 14 * DAY),
        ("1d12h", 1.5 * DAY),
        ("0.5h", 1800),
    ],
)
def test_durations_are_a_number_and_a_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_runs_prune_deletes_finished_runs_older_than_the_duration(tmp_path: Path) -> None:
    path = journal_with_runs(tmp_path)
    result = weft(tmp_path, "runs", "prune", "--older-than", "1d")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleted 1 run (0 events) from the journal")
    assert "freed" in result.output
    assert run_ids(path) == {"new", "running"}


def test_runs_prune_keeps_the_newest_and_never_a_running_run(tmp_path: Path) -> None:
    path = journal_with_runs(tmp_path)
    result = weft(tmp_path, "runs", "prune", "--keep", "0", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["runs"], report["dry_run"], sorted(report["run_ids"])) == (
        2,
        False,
        ["new", "old"],
    )
    assert report["freed_bytes"] == report["bytes_before"] - report["bytes_after"] > 0
    assert run_ids(path) == {"running"}


def test_a_dry_run_lists_and_keeps(tmp_path: Path) -> None:
    path = journal_with_runs(tmp_path)
    result = weft(tmp_path, "runs", "prune", "--keep", "1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("would delete 2 runs")
    assert run_ids(path) == {"old", "new", "running"}


def test_runs_prune_takes_another_journal(tmp_path: Path) -> None:
    elsewhere = journal_with_runs(tmp_path / "other")
    result = weft(tmp_path, "runs", "prune", "--older-than", "1d", "--journal", str(elsewhere))
    assert result.exit_code == 0, result.output
    assert run_ids(elsewhere) == {"new", "running"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("runs", "prune"), "say what to prune"),
        (("runs", "prune", "--older-than", "7 days"), "is not a duration"),
        (("runs", "prune", "--keep", "-1"), "--keep"),
        (("trace", "prune"), "say what to prune"),
    ],
)
def test_a_prune_that_says_nothing_or_nonsense_exits_2(
    tmp_path: Path, argv: tuple[str, ...], message: str
) -> None:
    (tmp_path / "traces.db").touch()
    result = weft(tmp_path, *argv)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_weft_runs_still_lists_runs(tmp_path: Path) -> None:
    journal_with_runs(tmp_path)
    result = weft(tmp_path, "runs", "--json")
    assert result.exit_code == 0, result.output
    assert {r["run_id"] for r in json.loads(result.output)} == {"old", "new", "running"}


def test_trace_prune_deletes_old_traces(tmp_path: Path) -> None:
    now = time.time()
    with TraceStore(tmp_path / "traces.db") as store:
        for run_id, end in (("old", now - 2 * DAY), ("new", now)):
            store.record(
                SpanRecord(
                    trace_id=run_id.ljust(32, "0"),
                    span_id=f"{run_id}-run",
                    parent_id=None,
                    name="wf",
                    kind="run",
                    start=end - 1,
                    end=end,
                    status="succeeded",
                    run_id=run_id,
                )
            )
    result = weft(tmp_path, "trace", "prune", "--older-than", "1d")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleted 1 run (1 span batch) from the trace store")
    listed = json.loads(weft(tmp_path, "trace", "ls", "--json").output)
    assert [r["run_id"] for r in listed] == ["new"]
