"""The README's commands and quickstarts are the ones that work.

The code blocks are read from README.md itself and run as they stand, so an
edit that breaks them fails here rather than for a new user.
"""

from __future__ import annotations

import re
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.runtime import run_sync

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = 'pip install -e ".[dev]" && python -m pytest'
EXAMPLE_COMMAND = "pip install -e . && weft run examples/quickstart/workflow.yaml"
TEXT = "Nodes start when their inputs are ready. No barriers."


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.M | re.S)


@pytest.fixture
def quickstart_files(tmp_path: Path) -> Iterator[Path]:
    """The README's Python and YAML quickstarts, saved under the names it gives."""
    (python_block,) = _blocks("python")
    (yaml_block,) = _blocks("yaml")
    (tmp_path / "count_words.py").write_text(python_block)
    (tmp_path / "count-words.yaml").write_text(yaml_block)
    yield tmp_path
    sys.modules.pop("count_words", None)  # imported by the YAML run


def test_the_two_setup_commands_are_in_the_readme() -> None:
    bash = _blocks("bash")
    assert EXAMPLE_COMMAND + "\n" in bash
    assert TEST_COMMAND + "\n" in bash


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(rf"^{re.escape(TEST_COMMAND)}$", script, re.M)


def test_the_python_quickstart_prints_what_its_comment_says(
    quickstart_files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runpy.run_path(str(quickstart_files / "count_words.py"), run_name="__main__")
    assert capsys.readouterr().out == "succeeded {'total': 9}\n"


def test_the_yaml_quickstart_gives_the_same_result(quickstart_files: Path) -> None:
    result = run_sync(quickstart_files / "count-words.yaml", {"text": TEXT})
    assert result.ok, result.error
    assert result.outputs == {"total": 9}


def test_the_yaml_quickstart_commands_succeed(
    quickstart_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(quickstart_files)
    runner = CliRunner()
    assert runner.invoke(cli, ["validate", "count-words.yaml"]).exit_code == 0
    run = runner.invoke(
        cli, ["run", "count-words.yaml", "-i", f"text={TEXT}", "--json", "--journal", "j.db"]
    )
    assert run.exit_code == 0, run.output
    assert '"total": 9' in run.stdout
