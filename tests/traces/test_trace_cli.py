"""``weft run`` records traces, and ``weft trace ls | show | export | view`` read them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli._app import cli
from weft.cli.trace import CRITICAL_MARK

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

WORKFLOW = """
import asyncio

from weft import Workflow, tool


@tool
async def fetch(page: int) -> dict:
    await asyncio.sleep(0.001 * page)
    return {"page": page, "words": 100 * page}


@tool
def total(pages: list) -> int:
    return sum(p["words"] for p in pages)


workflow = Workflow("pages")
workflow.node("list", lambda: [1, 2, 3])
workflow.node("fetch", fetch, after=["list"], foreach="${list}", with_={"page": "${item}"})
workflow.node("total", total, after=["fetch"], with_={"pages": "${fetch}"})
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def weft(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _run_pages(tmp_path: Path) -> str:
    source = tmp_path / "pages.py"
    source.write_text(WORKFLOW)
    result = weft("run", str(source), "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["run_id"])


def test_weft_run_records_a_trace_that_trace_ls_lists(home: Path, tmp_path: Path) -> None:
    run_id = _run_pages(tmp_path)
    assert (home / "traces.db").exists()
    listed = weft("trace", "ls", "--json")
    assert listed.exit_code == 0
    (entry,) = json.loads(listed.stdout)
    assert (entry["run_id"], entry["workflow"], entry["state"]) == (run_id, "pages", "succeeded")
    assert entry["spans"] == 1 + 3 + 3  # run, three nodes, three foreach items
    table = weft("trace", "ls")
    assert run_id[:12] in table.stdout and "pages" in table.stdout


def test_trace_show_prints_the_tree_with_the_critical_path_marked(
    home: Path, tmp_path: Path
) -> None:
    run_id = _run_pages(tmp_path)
    shown = weft("trace", "show", run_id[:8])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"run {run_id}")
    marked = [line for line in lines if f"{CRITICAL_MARK} " in line]
    for name in ("pages", "list", "fetch", "total"):
        assert any(f"{CRITICAL_MARK} {name}" in line for line in marked), name
    items = sorted(i for i in range(3) for line in lines if f"fetch [{i}]  call" in line)
    assert items == [0, 1, 2], "each foreach item's call is labelled by its index"
    assert sum(f"{CRITICAL_MARK} fetch [" in line for line in lines) == 1
    assert "critical path" in lines[-1]


def test_trace_show_can_hide_deep_spans(home: Path, tmp_path: Path) -> None:
    _run_pages(tmp_path)
    shown = weft("trace", "show", "last", "--depth", "1")
    assert "fetch  call" not in shown.stdout and "… 3 more" in shown.stdout


@pytest.mark.parametrize("fmt", ["otlp-json", "jsonl", "chrome"])
def test_trace_export_writes_each_format(home: Path, tmp_path: Path, fmt: str) -> None:
    _run_pages(tmp_path)
    target = tmp_path / f"out.{fmt}"
    exported = weft("trace", "export", "last", "--format", fmt, "-o", str(target))
    assert exported.exit_code == 0, exported.output
    text = target.read_text()
    if fmt == "jsonl":
        assert len([json.loads(line) for line in text.splitlines()]) == 7
    else:
        assert json.loads(text)
    to_stdout = weft("trace", "export", "last", "--format", fmt)
    assert to_stdout.stdout == text


def test_trace_view_writes_a_self_contained_page(home: Path, tmp_path: Path) -> None:
    run_id = _run_pages(tmp_path)
    viewed = weft("trace", "view", "last")
    assert viewed.exit_code == 0, viewed.output
    page = home / "views" / f"{run_id}.html"
    html = page.read_text()
    assert str(page) in viewed.stdout
    assert "http://" not in html and "https://" not in html
    chosen = weft("trace", "view", run_id, "-o", str(tmp_path / "v.html"))
    assert chosen.exit_code == 0 and (tmp_path / "v.html").read_text() == html


def test_an_unknown_run_is_a_one_line_error(home: Path, tmp_path: Path) -> None:
    _run_pages(tmp_path)
    for command in (["show"], ["export"], ["view"]):
        result = CliRunner().invoke(cli, ["trace", *command, "nope"])
        assert result.exit_code == 2
        assert "error: no run 'nope' in trace store" in result.output
        assert "Traceback" not in result.output


def test_without_a_store_the_error_says_how_to_get_one(home: Path) -> None:
    result = CliRunner().invoke(cli, ["trace", "ls"])
    assert result.exit_code == 2
    assert "no trace store" in result.output and "weft run" in result.output


def test_the_journal_given_as_the_trace_store_is_refused_and_left_as_it_was(
    home: Path, tmp_path: Path
) -> None:
    """``--store .weft/journal.db`` added the trace tables to the journal and set its
    schema version to the trace store's: every later ``weft runs`` refused the journal
    as "newer than this weft reads"."""
    import sqlite3

    run_id = _run_pages(tmp_path)
    journal = home / "journal.db"
    before = sqlite3.connect(journal).execute("PRAGMA user_version").fetchone()[0]
    result = CliRunner().invoke(cli, ["trace", "show", "last", "--store", str(journal)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: cannot use the trace store {journal}: it is a weft run journal (the trace "
        "store is traces.db beside it), not a trace store (it has tables events, runs); "
        "use another with --store FILE or WEFT_HOME"
    )
    db = sqlite3.connect(journal)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "trace_runs" not in tables
    assert db.execute("PRAGMA user_version").fetchone()[0] == before
    runs = weft("runs")
    assert runs.exit_code == 0 and run_id in runs.output


def test_another_database_given_as_the_trace_store_is_refused(home: Path, tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE notes (text)")
    result = CliRunner().invoke(cli, ["trace", "ls", "--store", str(other)])
    assert result.exit_code == 2
    assert "it is another database, not a trace store (it has tables notes)" in result.output
    assert "Traceback" not in result.output


def test_the_trace_store_given_as_the_journal_is_refused_and_left_as_it_was(
    home: Path, tmp_path: Path
) -> None:
    """The mirror slip, ``--journal .weft/traces.db``: the journal's tables were added to
    the trace store and the error sent the user to upgrade weft ("newer than this weft
    reads")."""
    import sqlite3

    run_id = _run_pages(tmp_path)
    traces = home / "traces.db"
    result = CliRunner().invoke(cli, ["runs", "--journal", str(traces)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: journal {traces}: it is a weft trace store (the journal is journal.db "
        "beside it), not a run journal (it has tables graphs, span_batches, trace_runs); "
        "give another --journal"
    )
    tables = {row[0] for row in sqlite3.connect(traces).execute("SELECT name FROM sqlite_master")}
    assert "runs" not in tables and "events" not in tables
    shown = weft("trace", "show", run_id)
    assert shown.exit_code == 0, shown.output


CRITIC_TOOLS = """
def draft(topic: str, feedback: str = "") -> str:
    return f"draft about {topic}" + (" revised" if feedback else "")


def critic(artifact: str, source: str, target: str) -> dict:
    ok = "revised" in artifact
    return {"approved": ok, "feedback": "" if ok else "add more detail"}


def publish(text: str) -> str:
    return "published: " + text
"""

CRITIC_WORKFLOW = """
name: reviewed
actions:
  draft: {python: "critic_tools:draft"}
  critic: {python: "critic_tools:critic"}
  publish: {python: "critic_tools:publish"}
nodes:
  d: {action: draft, with: {topic: cats}}
  p:
    action: publish
    after: [{node: d, critic: critic, max_rounds: 2}]
    with: {text: "${d}"}
"""


def test_trace_show_names_the_edge_and_round_of_critic_reviews_on_the_path(
    home: Path, tmp_path: Path
) -> None:
    """A review read ``critic  critic  145 µs`` (which edge? which round?), and the
    reviews the target waited for were left off the critical path."""
    (tmp_path / "critic_tools.py").write_text(CRITIC_TOOLS)
    (tmp_path / "reviewed.yaml").write_text(CRITIC_WORKFLOW)
    assert weft("run", str(tmp_path / "reviewed.yaml")).exit_code == 0
    shown = weft("trace", "show", "last").output.splitlines()
    rows = [line.split()[1:5] for line in shown[2:7]]  # past the tree's glyph
    assert [row[:3] for row in rows] == [
        [CRITICAL_MARK, "d", "node"],
        [CRITICAL_MARK, "critic", "critic"],
        [CRITICAL_MARK, "draft", "call"],
        [CRITICAL_MARK, "critic", "critic"],
        [CRITICAL_MARK, "p", "node"],
    ]
    assert [row[3] for row in rows[1:4]] == ["d->p", "d->p~1", "d->p~1"]


def test_after_the_quickstart_example_trace_show_prints_its_tree(
    home: Path, tmp_path: Path
) -> None:
    workflow = EXAMPLES / "quickstart" / "workflow.yaml"
    ran = weft("run", str(workflow), "-i", f"report={tmp_path / 'report.md'}", "--json")
    assert ran.exit_code == 0, ran.output
    shown = weft("trace", "show", "last")
    assert shown.exit_code == 0
    for node in ("list", "read", "stats", "readability", "vocabulary", "keywords", "report"):
        assert f" {node}  node" in shown.stdout
    assert f"{CRITICAL_MARK} quickstart  run" in shown.stdout


def test_weft_resume_adds_to_the_same_trace(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "flaky.py"
    marker = tmp_path / "fixed"
    source.write_text(
        "from pathlib import Path\n"
        "from weft import ActionFailed, Workflow, tool\n"
        "@tool\n"
        "def step() -> str:\n"
        f"    if not Path({str(marker)!r}).exists():\n"
        "        raise ActionFailed('not yet')\n"
        "    return 'done'\n"
        "workflow = Workflow('flaky')\n"
        "workflow.node('first', lambda: 1)\n"
        "workflow.node('second', step, after=['first'])\n"
    )
    failed = weft("run", str(source), "--json")
    run_id = json.loads(failed.stdout)["run_id"]
    marker.touch()
    resumed = weft("resume", run_id, "--json")
    assert resumed.exit_code == 0, resumed.output
    (entry,) = json.loads(weft("trace", "ls", "--json").stdout)
    assert entry["run_id"] == run_id and entry["state"] == "succeeded"
    shown = weft("trace", "show", run_id).stdout
    assert shown.count("flaky  run") == 2
