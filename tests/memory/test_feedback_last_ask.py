"""``weft feedback last good`` judges the newest ask, as ``weft resume last`` and
``weft trace show last`` take the newest run.

Found in a real-use trial: after a ``weft ask``, ``weft feedback last good``
answered ``no memory record for run 'last' (is memory on for that ask?)``.
The embedded memory with MiniLM, as ``weft ask`` records by default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from offline_weft import weft

DESK = '''
from weft import tool

@tool
def greet(name: str, greeting: str = "Hello") -> str:
    """Greet a person by name."""
    return f"{greeting}, {name}!"
'''


def test_feedback_last_judges_the_newest_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desk.py").write_text(DESK)
    for task in ("Greet Alice", "Greet the whole team of Bob"):
        asked = weft(tmp_path, "ask", task, "--agents", "desk.py")
        assert asked.exit_code == 0, asked.output

    judged = weft(tmp_path, "feedback", "last", "bad")
    assert judged.exit_code == 0, judged.output

    listed = json.loads(weft(tmp_path, "memory", "ls", "--json").stdout)
    newest = max((r for r in listed if r.get("source") == "ask"), key=lambda r: r["created"])
    assert judged.stdout.strip() == f"{newest['id']}: bad"
    assert newest["outcome"] == "bad"


def test_feedback_last_with_no_ask_in_memory_says_so(tmp_path: Path) -> None:
    assert weft(tmp_path, "memory", "add", "Greet Alice").exit_code == 0
    judged = weft(tmp_path, "feedback", "last", "good")
    assert judged.exit_code == 2, judged.output
    assert "no ask is recorded in this memory yet" in judged.output
