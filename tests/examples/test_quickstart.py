"""The quickstart example: both versions run, through the CLI and the API, and agree.

The numbers in the report are checked against counts made here independently
(whitespace-split words, blank-line paragraphs), not with the example's own
helpers, so a bug in the tools cannot hide behind itself. Every run writes
its report and journal under tmp_path, never into the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.runtime import run_sync

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "quickstart"
DOCS = sorted((EXAMPLE / "docs").glob("*.txt"))
VERSIONS = ("workflow.yaml", "workflow.py")


def _cli_run(definition: Path, report: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "weft",
            "run",
            str(definition),
            "--journal",
            str(home / "journal.db"),
            "-i",
            f"report={report}",
        ],
        cwd=home,
        env={**os.environ, "WEFT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run each version once via the CLI and once via the API; report text by run name."""
    texts: dict[str, str] = {}
    for version in VERSIONS:
        home = tmp_path_factory.mktemp(f"cli-{version}")
        report = home / "out" / "report.md"
        done = _cli_run(EXAMPLE / version, report, home)
        assert done.returncode == 0, f"weft run {version} failed:\n{done.stdout}\n{done.stderr}"
        assert str(report) in done.stdout  # the output names where the report went
        texts[f"cli:{version}"] = report.read_text(encoding="utf-8")

        api_report = tmp_path_factory.mktemp(f"api-{version}") / "report.md"
        result = run_sync(EXAMPLE / version, {"report": str(api_report)})
        assert result.ok, result.error
        assert result.outputs["report"] == str(api_report)
        assert result.outputs["documents"] == len(DOCS)
        texts[f"api:{version}"] = api_report.read_text(encoding="utf-8")
    return texts


def _independent_counts(path: Path) -> dict[str, int]:
    text = path.read_text(encoding="utf-8")
    words = [t for t in text.split() if any(ch.isalnum() for ch in t)]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return {"Words": len(words), "Paragraphs": len(paragraphs)}


def _section(report: str, name: str) -> str:
    """The body of the report's ``## name`` section."""
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", report, re.M | re.S)
    assert match, f"no section for {name} in the report"
    return match.group(1)


def test_the_example_ships_between_six_and_eight_documents() -> None:
    assert 6 <= len(DOCS) <= 8


@pytest.mark.parametrize("run", ["cli:workflow.yaml", "cli:workflow.py", "api:workflow.yaml",
                                 "api:workflow.py"])  # fmt: skip
def test_the_report_has_a_section_for_every_document(reports: dict[str, str], run: str) -> None:
    report = reports[run]
    assert report.startswith(f"# Corpus report: {len(DOCS)} documents\n")
    for doc in DOCS:
        assert f"| {doc.name} |" in _section(report, "Documents at a glance")
        assert "| Flesch-Kincaid grade |" in _section(report, doc.name)
        assert "Keywords (tf-idf): " in _section(report, doc.name)


def test_word_and_paragraph_counts_match_an_independent_count(reports: dict[str, str]) -> None:
    report = reports["cli:workflow.yaml"]
    total = 0
    for doc in DOCS:
        section = _section(report, doc.name)
        for measure, expected in _independent_counts(doc).items():
            assert f"| {measure} | {expected} |" in section, f"{doc.name}: {measure}"
        total += _independent_counts(doc)["Words"]
    assert f"| Words | {total} |" in _section(report, "Corpus summary")


def test_the_simple_story_reads_easier_than_the_technical_text(reports: dict[str, str]) -> None:
    report = reports["cli:workflow.yaml"]

    def ease(name: str) -> float:
        found = re.search(r"\| Flesch reading ease \| ([\d.-]+) ", _section(report, name))
        assert found
        return float(found.group(1))

    assert ease("lost-kite.txt") > 80 > 40 > ease("hash-tables.txt")
    assert "| Hardest to read | hash-tables.txt" in report


def test_yaml_and_python_versions_write_identical_reports(reports: dict[str, str]) -> None:
    assert len(set(reports.values())) == 1, "the four runs wrote different reports"


def test_relative_paths_start_at_the_example_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what the README promises: the default folder works from any current directory
    monkeypatch.chdir(tmp_path)
    result = run_sync(EXAMPLE / "workflow.yaml", {"report": str(tmp_path / "r.md")})
    assert result.ok
    assert result.outputs["documents"] == len(DOCS)


@pytest.mark.parametrize("version", VERSIONS)
def test_weft_validate_accepts_the_example(version: str) -> None:
    result = CliRunner().invoke(cli, ["validate", str(EXAMPLE / version)])
    assert result.exit_code == 0, result.output
    assert "ok: workflow 'quickstart' with 7 nodes" in result.output
