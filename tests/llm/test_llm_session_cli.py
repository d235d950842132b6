"""``weft session ls | show | clear`` read and forget what an agent's SQLite session keeps."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from weft.agents.sessions import SQLiteSession
from weft.cli import cli


def kept(path: Path) -> SQLiteSession:
    store = SQLiteSession(path)
    turn: list[dict[str, Any]] = [
        {"role": "user", "content": "Refund A1"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "refund", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "refunded"},
        {"role": "assistant", "content": "Done."},
    ]
    asyncio.run(store.add_turn("ada", turn))
    return store


def test_ls_show_and_clear_a_conversation(tmp_path: Path) -> None:
    path = tmp_path / "support.db"
    store = kept(path)
    runner = CliRunner()
    listed = runner.invoke(cli, ["session", "ls", str(path)])
    assert listed.exit_code == 0 and listed.output == "ada\t1 turn(s)\n"
    shown = runner.invoke(cli, ["session", "show", str(path), "ada"])
    assert shown.output.splitlines() == [
        "user: Refund A1",
        "assistant:  [calls refund]",
        "tool: refunded",
        "assistant: Done.",
    ]
    as_json = runner.invoke(cli, ["session", "show", str(path), "ada", "--json"])
    assert json.loads(as_json.output)[-1] == {"role": "assistant", "content": "Done."}
    cleared = runner.invoke(cli, ["session", "clear", str(path), "ada"])
    assert cleared.exit_code == 0
    assert asyncio.run(store.messages("ada")) == []


def test_a_missing_file_or_conversation_exits_2_naming_it(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["session", "ls", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no session file" in missing.output
    kept(tmp_path / "s.db")
    unknown = runner.invoke(cli, ["session", "show", str(tmp_path / "s.db"), "bob"])
    assert unknown.exit_code == 2 and "keeps no conversation 'bob'" in unknown.output
