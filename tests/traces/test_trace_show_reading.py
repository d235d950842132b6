"""``weft trace show`` answers what a reader opens a trace for.

Which foreach item a call was, which attempt of a retried call and how long
the retry waited, what a retried node's first attempt made (nested under that
attempt, not beside it), which nodes never ran, how long a remote call waited
against how long its agent ran it, and what an ask's routing chose and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli._app import cli
from weft.runtime.tracing.layout import view_model
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore

TOOLS = """
from pathlib import Path

from weft import ActionContext

MARK = Path("flaky.tried")  # in the test's folder (its cwd): the module is imported once


def lookup(key: str) -> str:
    return key.upper()


async def flaky(ctx: ActionContext) -> str:
    found = await ctx.invoke("lookup", {"key": "rate"})  # made by every attempt
    if not MARK.exists():
        MARK.write_text("1")
        raise ConnectionError("rate service unreachable")
    return found


def square(n: int) -> int:
    if n == 7:
        raise ValueError(f"cannot square item {n}")
    return n * n


def total(values: list) -> int:
    return sum(values)
"""

WORKFLOW = """
name: reading
on_failure: continue
actions:
  lookup: {python: "reading_tools:lookup"}
  flaky: {python: "reading_tools:flaky"}
  square: {python: "reading_tools:square"}
  total: {python: "reading_tools:total"}
nodes:
  rate:
    action: flaky
    retry: {max_attempts: 3, initial_delay: 0.01, jitter: false}
  squares:
    action: square
    foreach: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    with: {n: "${item}"}
  sum:
    action: total
    after: squares
    with: {values: "${squares}"}
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


@pytest.fixture
def reading_run(home: Path, tmp_path: Path) -> str:
    (tmp_path / "reading_tools.py").write_text(TOOLS)
    source = tmp_path / "reading.yaml"
    source.write_text(WORKFLOW)
    ran = weft("run", str(source), "--json")
    assert ran.exit_code == 1, ran.output  # squares fails on item 7
    return str(json.loads(ran.stdout)["run_id"])


def _show(*args: str) -> list[str]:
    shown = weft("trace", "show", *args)
    assert shown.exit_code == 0, shown.output
    return shown.stdout.splitlines()


def test_what_a_retried_nodes_first_attempt_made_is_nested_under_that_attempt(
    reading_run: str,
) -> None:
    exported = weft("trace", "export", "last", "--format", "jsonl")
    spans = [json.loads(line) for line in exported.stdout.splitlines()]
    (node,) = [s for s in spans if s["kind"] == "node" and s["name"] == "rate"]
    attempts = {
        s["attributes"]["weft.attempt"]: s
        for s in spans
        if s["kind"] == "call" and s["name"] == "flaky" and s["parent_id"] == node["span_id"]
    }
    assert sorted(attempts) == [1, 2]
    lookups = [s for s in spans if s["name"] == "lookup"]
    assert sorted(s["parent_id"] for s in lookups) == sorted(
        a["span_id"] for a in attempts.values()
    ), "each lookup hangs under the attempt that made it, none under the node"

    lines = _show(reading_run)
    first = next(i for i, line in enumerate(lines) if "flaky  call" in line)
    assert "attempt 1 · retry in 10.0 ms" in lines[first]
    # the first attempt's error, then its lookup, one level deeper than the attempt
    lookup_line = next(line for line in lines[first:] if "lookup  call" in line)
    assert lookup_line.index("lookup") > lines[first].index("flaky")


def test_a_retried_node_says_how_many_attempts_and_each_attempt_its_number(
    reading_run: str,
) -> None:
    lines = _show(reading_run)
    (node_line,) = [line for line in lines if " rate  node" in line]
    assert "2 attempts" in node_line
    attempt_lines = [line for line in lines if "flaky  call" in line]
    assert ["attempt 1" in attempt_lines[0], "attempt 2" in attempt_lines[1]] == [True, True]
    assert "retry in" not in attempt_lines[1]  # the last attempt was not retried


def test_foreach_items_are_labelled_and_past_items_folded_into_one_line(
    reading_run: str,
) -> None:
    lines = _show(reading_run, "--items", "4")
    items = [line for line in lines if "square [" in line]
    assert len(items) == 4
    assert any("square [7]  call" in line and "error" in line for line in items), (
        "the failed item is among those listed"
    )
    (rest,) = [line for line in lines if "more items" in line]
    assert "… 11 more items: 11 ok" in rest and "all 15: p50" in rest

    every = _show(reading_run, "--items", "0")
    indexes = sorted(
        int(line.split("square [", 1)[1].split("]", 1)[0]) for line in every if "square [" in line
    )
    assert indexes == list(range(15))
    assert not any("more items" in line for line in every)


def test_nodes_that_never_ran_are_listed_with_their_action(reading_run: str) -> None:
    lines = _show(reading_run)
    assert any("- sum  node  not run  (total)" in line for line in lines)


def _remote_and_ask_spans() -> list[SpanRecord]:
    trace = "ab" * 16
    error = {"type": "ValueError", "message": "square: cursed", "retryable": False}

    def span(
        span_id: str,
        parent: str | None,
        name: str,
        kind: str,
        start: float,
        end: float,
        status: str = "ok",
        **attributes: object,
    ) -> SpanRecord:
        agent = attributes.pop("agent", None)
        return SpanRecord(
            trace,
            span_id.ljust(16, "0"),
            parent and parent.ljust(16, "0"),
            name,
            kind,
            100 + start,
            100 + end,
            status,
            run_id="remote-run",
            node=attributes.pop("node", None),
            agent=agent,  # type: ignore[arg-type]
            attributes=attributes,
        )

    return [
        span(
            "route1",
            None,
            "route s1",
            "route",
            0.0,
            0.01,
            **{
                "weft.capability": "square numbers",
                "weft.action": "square",
                "candidates": [
                    {"agent_id": "square", "score": 2.5},
                    {"agent_id": "slow_sum", "score": 0.75},
                    {"agent_id": "publish", "score": 0.25},
                    {"agent_id": "describe", "score": 0.1},
                ],
            },
        ),
        span(
            "mem1",
            None,
            "memory reuse",
            "memory",
            0.0,
            0.0,
            **{
                "weft.memory.record": "mem-1",
                "weft.memory.reused": False,
                "weft.memory.problems": ["the plan names 'gone', which no agent serves"],
            },
        ),
        span(
            "note1",
            None,
            "planner fallback",
            "note",
            0.0,
            0.0,
            **{"weft.note": "the LLM planner failed 3 times; planned with the rule planner"},
        ),
        span(
            "run1",
            None,
            "ask",
            "run",
            0.02,
            1.0,
            "failed",
            **{
                "weft.graph": {
                    "nodes": [{"name": "s1", "action": "square", "foreach": False}],
                    "edges": [],
                    "loops": [],
                }
            },
        ),
        span(
            "node1",
            "run1",
            "s1",
            "node",
            0.03,
            0.93,
            "failed",
            node="s1",
            agent="alpha-1",
            error=error,
            **{"weft.action": "square"},
        ),
        span(
            "agent1",
            "node1",
            "square",
            "call",
            0.5,
            0.6,
            "error",
            node="s1",
            agent="alpha-1",
            error=error,
            **{"weft.side": "agent", "weft.attempt": 1},
        ),
    ]


@pytest.fixture
def remote_store(tmp_path: Path) -> Path:
    path = tmp_path / "traces.db"
    with TraceStore(path) as store:
        for record in _remote_and_ask_spans():
            store.record(record)
    return path


def test_a_remote_call_shows_how_long_it_waited_and_its_error_once(remote_store: Path) -> None:
    lines = _show("--store", str(remote_store), "remote-run")
    (node,) = [line for line in lines if " s1  node" in line]
    assert "@alpha-1" in node and "waited 800.0 ms" in node  # 900 ms, 100 of them on the agent
    (served,) = [line for line in lines if "square  call" in line]
    assert "agent side" in served
    assert sum("✗ ValueError: square: cursed" in line for line in lines) == 1


def test_routing_memory_and_note_spans_say_what_they_chose_and_why(remote_store: Path) -> None:
    text = "\n".join(_show("--store", str(remote_store), "remote-run"))
    assert "→ square  score 2.50 · next slow_sum 0.75, publish 0.25  (for 'square numbers')" in text
    assert "describe" not in text  # two runners-up, no more
    assert "↺ did not reuse the plan of mem-1: the plan names 'gone', which no agent serves" in text
    assert "note: the LLM planner failed 3 times; planned with the rule planner" in text


def test_the_view_shows_agent_time_and_shares_one_routing_lane(remote_store: Path) -> None:
    with TraceStore(remote_store) as store:
        run = store.get_run("remote-run")
        spans = store.spans(run.run_id)
    model = view_model(run, spans)
    by_name = {s["name"]: s for s in model["spans"]}
    assert by_name["s1"]["served"] == 100.0
    assert "served" not in by_name["square"]
    assert by_name["route s1"]["lane"] == "routing"
    assert by_name["memory reuse"]["lane"] == "memory"
    # the header's duration is the run's, planning included, as `weft trace ls` says
    assert model["run"]["duration_ms"] == pytest.approx(1000.0)
