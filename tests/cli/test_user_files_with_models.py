"""A user's file whose tools take pydantic models with postponed annotations.

``from __future__ import annotations`` leaves ``list[Keyword]`` a string until
pydantic resolves it in ``sys.modules[model.__module__]``; weft ran such a file
without registering it there, and ``weft ask --agents quickstart_tools.py``
(the quickstart's own tools) failed with "`write_report_arguments` is not fully
defined". Each way weft runs a user's file by its path is checked.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from weft.cli import cli
from weft.runtime.engine.compiler import load_definition

TOOLS = '''
from __future__ import annotations

from pydantic import BaseModel

import weft


class Keyword(BaseModel):
    term: str


class Keywords(BaseModel):
    keywords: list[Keyword]


@weft.tool
def join_keywords(found: list[Keywords]) -> str:
    """Join the keywords found in every document into one line."""
    return ", ".join(k.term for f in found for k in f.keywords)
'''

WORKFLOW = (
    TOOLS
    + """

workflow = weft.Workflow("keywords")
workflow.node("join", join_keywords)
"""
)


def test_weft_route_and_ask_agents_load_it(tmp_path: Path) -> None:
    tools = tmp_path / "kw_tools.py"
    tools.write_text(TOOLS)
    runner = CliRunner()
    got = runner.invoke(cli, ["route", "join the keywords", "--agents", str(tools), "--json"])
    assert "not fully defined" not in got.output
    assert got.exit_code in (0, 1), got.output  # routed, or no agent fits: not an error


def test_a_python_workflow_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "kw_workflow.py"
    path.write_text(WORKFLOW)
    assert load_definition(path) is not None
