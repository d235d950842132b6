"""A subtask that no card fits gets "no agent fits" (MiniLM, calibrated minimum), in
``weft route`` and in ``weft ask``, and a fitting one is still routed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli

TOOLS = '''
from weft import tool

@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()

@tool
def total(counts: str) -> str:
    """Add the counts up."""
    return str(sum(int(x) for x in counts.split()))

agents = [research, total]
'''


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "nofit_tools.py").write_text(TOOLS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "nofit_tools:agents"
    sys.modules.pop("nofit_tools", None)


@pytest.mark.parametrize("text", ["Estimate next quarter's sales", "Walk my dog at 6pm."])
def test_weft_route_says_no_agent_fits(tools: str, text: str) -> None:
    result = CliRunner().invoke(cli, ["route", text, "--agents", tools])
    assert result.exit_code == 1, result.output
    assert "no agent fits: best score" in result.output


def test_weft_route_still_routes_what_fits(tools: str) -> None:
    result = CliRunner().invoke(cli, ["route", "Add up 3, 4 and 5", "--agents", tools])
    assert result.exit_code == 0, result.output
    assert "chosen: total" in result.output


def test_weft_ask_does_not_run_a_subtask_no_agent_fits(tools: str, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    args = ["ask", "Walk my dog at 6pm.", "--agents", tools, "--router", "capability"]
    result = CliRunner().invoke(cli, [*args, "--journal", journal])
    assert result.exit_code == 2, result.output
    assert "no agent fits subtask" in result.output
    assert "facts on" not in result.output and "Traceback" not in result.output
