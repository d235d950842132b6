"""``--path DIR`` of the serving commands names a folder that does not exist: a usage error.

Found in a real-use trial: ``weft mcp serve quickstart_tools:list_documents --path
examples/quickstart`` run from another folder than the repository's root took the
missing folder without a word and then said only that no module
``quickstart_tools`` was in "the --path folders". Now the mistyped folder is the
error, named, before anything is imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli

TOOLS = '''
from weft import tool

@tool
def shout(text: str) -> str:
    """Shout a text."""
    return text.upper()
'''


@pytest.mark.parametrize(
    "command",
    [
        ["agent", "serve", "tools:shout", "--broker", "mqtt://127.0.0.1:1"],
        ["mcp", "serve", "tools:shout"],
        ["a2a", "serve", "tools:shout", "--http", "127.0.0.1:0"],
    ],
    ids=["agent-serve", "mcp-serve", "a2a-serve"],
)
def test_a_missing_path_folder_is_a_usage_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "tools.py").write_text(TOOLS)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, [*command, "--path", "tool"], env={"WEFT_HOME": str(tmp_path / "home")}
    )
    assert result.exit_code == 2, result.output
    assert "'tool' does not exist" in result.output
