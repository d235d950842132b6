"""``weft route --agents`` takes the references ``weft ask --agents`` takes.

Before, ``weft route`` took only an importable ``module:obj``: the file that
``weft ask --agents team.py`` had just used was refused (``'team.py' is not
of the form 'module:attribute'``), and a module in the current folder was not
found without ``PYTHONPATH``. The hashing embedder over embedded Chroma.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli

TEAM = '''
from weft import tool

@tool
def summarise(task: str) -> str:
    """Summarise a text into one short paragraph."""
    return task

agents = [summarise]
'''


def route(folder: Path, *refs: str) -> Result:
    args = ["route", "Summarise a report", "--embedder", "hashing", "--json"]
    for ref in refs:
        args += ["--agents", ref]
    return CliRunner().invoke(cli, args, env={"WEFT_HOME": str(folder), "WEFT_BROKER": None})


@pytest.mark.parametrize(
    "ref", ["refs_team.py", "refs_team.py:agents", "refs_team:agents", "refs_team"]
)
def test_route_loads_agents_as_ask_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ref: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "refs_team", raising=False)  # this folder's, not a cached one
    (tmp_path / "refs_team.py").write_text(TEAM)
    routed = route(tmp_path, ref)
    assert routed.exit_code in (0, 1), routed.output
    assert '"summarise"' in routed.stdout


def test_a_missing_agents_file_is_named_with_its_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    routed = route(tmp_path, "nothere.py")
    assert routed.exit_code == 2, routed.output
    assert "error: --agents nothere.py: no such file nothere.py" in routed.output
