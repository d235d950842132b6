"""A bad ``$WEFT_THREADS`` is a user mistake: one line, exit 2, before anything runs.

Read only when the first ``def`` tool ran, it used to fail every such node of the
run instead (exit 1, a ``resume with`` hint for a run that could never succeed
while the variable stayed wrong).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.agents import set_worker_threads
from weft.cli import cli

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart" / "workflow.yaml"


@pytest.fixture(autouse=True)
def _fresh_shared_pool() -> Iterator[None]:
    """A pool made by an earlier test of this process is sized already; as in a fresh
    ``weft`` process, let the environment decide."""
    set_worker_threads(None)
    yield
    set_worker_threads(None)


@pytest.mark.parametrize("value", ["abc", "0", "-4"])
def test_run_refuses_a_bad_weft_threads_before_the_run(tmp_path: Path, value: str) -> None:
    env = {"WEFT_HOME": str(tmp_path), "WEFT_THREADS": value}
    report = tmp_path / "report.md"
    result = CliRunner().invoke(cli, ["run", str(QUICKSTART), "-i", f"report={report}"], env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [
        f"error: WEFT_THREADS must be a whole number of at least 1, got {value!r}"
    ]
    assert not (tmp_path / "journal.db").exists()  # no run was started, so none to resume


def test_a_good_weft_threads_runs(tmp_path: Path) -> None:
    env = {"WEFT_HOME": str(tmp_path), "WEFT_THREADS": "2"}
    report = tmp_path / "report.md"
    result = CliRunner().invoke(cli, ["run", str(QUICKSTART), "-i", f"report={report}"], env=env)
    assert result.exit_code == 0, result.output
    assert report.exists()


def test_commands_that_run_no_tools_ignore_it(tmp_path: Path) -> None:
    env = {"WEFT_HOME": str(tmp_path), "WEFT_THREADS": "abc"}
    result = CliRunner().invoke(cli, ["validate", str(QUICKSTART)], env=env)
    assert result.exit_code == 0, result.output


def test_help_works_whatever_it_says(tmp_path: Path) -> None:
    env = {"WEFT_HOME": str(tmp_path), "WEFT_THREADS": "abc"}
    for argv in (["run", "--help"], ["agent", "serve", "--help"]):
        result = CliRunner().invoke(cli, argv, env=env)
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


@pytest.mark.parametrize(
    ("name", "value", "what"),
    [
        ("WEFT_MODEL_TIMEOUT", "abc", "a number of seconds"),
        ("WEFT_MODEL_TIMEOUT", "0", "a number of seconds"),
        ("WEFT_MAX_TOKENS", "1.5", "a whole number"),
    ],
)
def test_run_refuses_a_bad_model_setting_before_the_run(
    tmp_path: Path, name: str, value: str, what: str
) -> None:
    """Read at the first model call, it used to fail every LLM node of the run instead."""
    env = {"WEFT_HOME": str(tmp_path), name: value}
    report = tmp_path / "report.md"
    result = CliRunner().invoke(cli, ["run", str(QUICKSTART), "-i", f"report={report}"], env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [f"error: {name}={value!r} is not {what} above 0"]
    assert not (tmp_path / "journal.db").exists()
