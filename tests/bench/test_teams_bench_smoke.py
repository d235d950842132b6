"""The team benchmark holds a short conversation on both buses and writes its table.

No timing assertions: the numbers belong to ``bench/teams.py``.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import load_bench

bench = load_bench("teams")


def test_both_buses_hold_every_turn_and_the_table_is_appended(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    assert bench.main(["--members", "5", "--turns", "30", "--results", str(results)]) == 0
    text = results.read_text()
    assert "## Team conversation benchmark" in text and "machine:" in text
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("| in-process") or line.startswith("| mqtt")
    ]
    assert [r.split("|")[1].strip() for r in rows] == ["in-process", "mqtt"]
    assert all(r.split("|")[3].strip() == "30" for r in rows)
