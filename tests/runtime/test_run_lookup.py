"""A run is found by the start of its id, literally: ``_`` and ``%`` are not wildcards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from weft.protocols import RunNotFoundError
from weft.runtime.engine.journal import Journal
from weft.runtime.support.sqlite_text import starts_with


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    journal = Journal(tmp_path / "journal.db")
    for run_id in ("nightly_1", "nightlyX1", "50%-sample", "500-sample", "Batch-7", "batch-8"):
        journal.start_run(run_id, "wf", None, "hash", {})
    return journal


def test_an_underscore_in_a_prefix_matches_only_an_underscore(journal: Journal) -> None:
    assert journal.get_run("nightly_").run_id == "nightly_1"


def test_a_percent_sign_in_a_prefix_matches_only_a_percent_sign(journal: Journal) -> None:
    assert journal.get_run("50%").run_id == "50%-sample"


def test_a_prefix_is_case_sensitive(journal: Journal) -> None:
    assert journal.get_run("b").run_id == "batch-8"


def test_an_ambiguous_prefix_names_the_runs_it_matches(journal: Journal) -> None:
    with pytest.raises(RunNotFoundError, match="ambiguous") as caught:
        journal.get_run("nightly")
    assert "nightly_1" in str(caught.value) and "nightlyX1" in str(caught.value)


def test_an_unknown_prefix_is_not_found(journal: Journal) -> None:
    with pytest.raises(RunNotFoundError, match="no run 'nightly%'"):
        journal.get_run("nightly%")


def test_the_condition_compares_characters_not_bytes() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id TEXT)")
    db.executemany("INSERT INTO t VALUES (?)", [("café-1",), ("cafe-2",), ("caf\\é",)])
    condition, params = starts_with("id", "café")
    assert db.execute(f"SELECT id FROM t WHERE {condition}", params).fetchall() == [("café-1",)]
