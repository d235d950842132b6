"""A misspelt attribute in a ``python:`` ref or ``weft ask --agents`` names the close ones.

``weft agent serve tools:totl`` already said ``(did you mean 'total'?)``; a workflow's
``python: "tools:totl"`` and ``weft ask --agents tools:totl`` said only that the
attribute is missing, so the user had to open the module to find the name.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from click.testing import CliRunner

from weft.cli import cli

TOOLS = '''
import weft


@weft.tool
def total(counts: list[int]) -> int:
    """Add the counts up."""
    return sum(counts)
'''


def _module(tmp_path: Path) -> str:
    name = f"close_tools_{uuid.uuid4().hex[:10]}"  # a module stays in sys.modules
    (tmp_path / f"{name}.py").write_text(TOOLS)
    return name


def _one_error_line(argv: list[str], tmp_path: Path) -> str:
    result = CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_workflow_python_ref_names_the_close_attribute(tmp_path: Path) -> None:
    module = _module(tmp_path)
    path = tmp_path / "wf.yaml"
    path.write_text(
        "name: close\n"
        f'actions:\n  total: {{python: "{module}:totl"}}\n'
        "nodes:\n  t: {action: total, with: {counts: [1]}}\n"
    )
    line = _one_error_line(["validate", str(path)], tmp_path)
    assert f"module '{module}' has no attribute 'totl' (did you mean 'total'?)" in line


def test_ask_agents_names_the_close_attribute(tmp_path: Path) -> None:
    module = _module(tmp_path)
    ref = f"{tmp_path / module}.py:totl"
    line = _one_error_line(["ask", "Add it up", "--agents", ref, "--no-memory"], tmp_path)
    assert line.endswith("has no attribute 'totl' (did you mean 'total'?)"), line


def test_no_hint_when_nothing_is_close(tmp_path: Path) -> None:
    module = _module(tmp_path)
    ref = f"{tmp_path / module}.py:zzzz"
    line = _one_error_line(["ask", "Add it up", "--agents", ref, "--no-memory"], tmp_path)
    assert line.endswith("has no attribute 'zzzz'"), line
