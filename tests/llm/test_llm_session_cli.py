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
        "assistant: [calls refund]",
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


def test_show_json_and_clear_of_a_conversation_not_kept_exit_2_suggesting_close_ids(
    tmp_path: Path,
) -> None:
    """``show --json`` printed ``[]`` and ``clear`` said "cleared" for a misspelt id,
    which left the customer's conversation kept while the operator thought it gone."""
    path = tmp_path / "s.db"
    kept(path)
    runner = CliRunner()
    shown = runner.invoke(cli, ["session", "show", str(path), "Ada", "--json"])
    assert shown.exit_code == 2 and "keeps no conversation 'Ada'" in shown.output
    cleared = runner.invoke(cli, ["session", "clear", str(path), "adaa"])
    assert cleared.exit_code == 2 and "did you mean 'ada'?" in cleared.output
    assert asyncio.run(SQLiteSession(path).messages("ada")) != []


def test_a_damaged_foreign_or_newer_file_exits_2_and_is_not_changed(tmp_path: Path) -> None:
    """A file that is no SQLite database raised a bare ``sqlite3`` traceback, and ``ls``
    of another program's database (a trace store) added a ``turns`` table to it."""
    import sqlite3

    runner = CliRunner()
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not a database at all" * 10)
    out = runner.invoke(cli, ["session", "ls", str(damaged)])
    assert out.exit_code == 2 and "not a SQLite database, or a damaged one" in out.output

    other = tmp_path / "traces.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE spans (id TEXT)")
        db.execute("PRAGMA user_version = 2")
    for args in (["ls", str(other)], ["show", str(other), "ada"], ["clear", str(other), "ada"]):
        out = runner.invoke(cli, ["session", *args])
        assert out.exit_code == 2 and "is another SQLite database (tables: spans)" in out.output
    with sqlite3.connect(other) as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == [("spans",)]

    newer = tmp_path / "newer.db"
    kept(newer)
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 9")
    out = runner.invoke(cli, ["session", "show", str(newer), "ada"])
    assert out.exit_code == 2 and "written by a newer weft (format 9; this weft reads 1)" in (
        out.output
    )
