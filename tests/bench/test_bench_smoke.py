"""The executor benchmark runs, measures what it says, and judges its targets correctly.

Tiny sizes and no timing targets here: whether weft meets them is for
``bench/executor.py`` to judge on a quiet machine. What is checked is that the
contenders compute the same thing, that every figure the report rests on is a
real measurement (positive, one per repetition), that the report's ratios are
computed from those figures, that every target gets a verdict, and that the
verdict says FAIL for a result that misses a target.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from .conftest import load_bench

bench = load_bench("executor")

TINY_DAGS = {
    "chain": lambda: bench.chain_dag(20),
    "fanout": lambda: bench.fanout_dag(20),
    "layered": lambda: bench.layered_dag(4, 5),
    "lagging branch": lambda: bench.lagging_branch_dag(scale=0.02),
    "random latencies": lambda: bench.random_latency_dag(20, scale=0.02),
}
MAKESPAN_LABELS = ("asyncio", "weft", "weft+journal", "LangGraph")
LAGGING = bench.lagging_branch_dag().name
BIG_NODES = bench.Config.tiny().big_layers * bench.Config.tiny().big_width
VERDICTS = {"PASS", "FAIL", "—"}


def table_rows(report: str, heading: str) -> list[list[str]]:
    """The cells of each data row of the markdown table under ``### heading``."""
    section = report.split(f"### {heading}", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def verdicts(report: str) -> dict[str, str]:
    """Target name -> verdict, from the report's Targets table."""
    return {name: verdict for name, _measured, _goal, verdict in table_rows(report, "Targets")}


# -- the contenders agree ----------------------------------------------------------


async def _outputs(contender: Any, dag: Any) -> dict[int, Any]:
    _, values = await contender.run(contender.build(dag))
    return {sink: values[sink] for sink in dag.sinks}


@pytest.mark.parametrize("shape", sorted(TINY_DAGS))
async def test_every_contender_computes_the_same_outputs_on_the_same_graph(shape: str) -> None:
    dag = TINY_DAGS[shape]()
    expected = {sink: dag.expected()[sink] for sink in dag.sinks}
    results = {c.label: await _outputs(c, dag) for c in bench.contenders()}
    assert {"asyncio", "weft", "weft+journal", "weft+trace", "LangGraph"} <= set(results)
    for label, outputs in results.items():
        assert outputs == expected, label


async def test_weft_gives_every_node_the_output_the_graph_implies() -> None:
    dag = bench.layered_dag(4, 5)
    _, values = await bench.Weft().run(bench.Weft().build(dag))
    assert values == dag.expected()


def test_the_check_catches_a_wrong_output() -> None:
    dag = bench.layered_dag(3, 4)
    values = dag.expected()
    values[dag.sinks[0]] += 1
    with pytest.raises(AssertionError, match="expected"):
        bench.check(dag, "broken", values)


def test_the_critical_path_of_the_lagging_branch_goes_through_the_slow_sibling() -> None:
    assert bench.lagging_branch_dag().critical_path_ms() == pytest.approx(5 + 100 + 5)


# -- a real run at tiny size -------------------------------------------------------


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, dict[str, Any], list[dict[str, Any]], str]:
    """One tiny run of every measurement: (config, measured, big-run reports, report)."""
    config = bench.Config.tiny()
    measured = asyncio.run(bench.measure(config, lambda _: None))
    big = bench.measure_big(config, lambda _: None)
    return config, measured, big, bench.render(config, measured, big)


def test_every_contender_has_a_positive_time_per_repetition_on_every_graph(
    tiny: tuple[Any, dict[str, Any], list[dict[str, Any]], str],
) -> None:
    config, measured, _, _ = tiny
    labels = {c.label for c in bench.contenders()}
    assert len(measured["overhead"]) == 3
    for dag, timings in measured["overhead"]:
        assert set(timings) == labels, dag.name
        for t in timings.values():
            assert len(t.runs_s) == config.reps, (dag.name, t.label)
            assert all(s > 0 for s in t.runs_s), (dag.name, t.label)
            assert t.build_s > 0, (dag.name, t.label)


def test_the_overhead_table_shows_per_node_figures_and_ratios_of_the_medians(
    tiny: tuple[Any, dict[str, Any], list[dict[str, Any]], str],
) -> None:
    _, measured, _, report = tiny
    rows = table_rows(report, "Per-node orchestration overhead")
    by_key = {
        (graph, label): (per_node, ratio_lg, ratio_asyncio)
        for graph, label, per_node, _, ratio_lg, ratio_asyncio in rows
    }
    for dag, timings in measured["overhead"]:
        graph = f"{dag.name} ({dag.n} nodes, {len(dag.edges)} edges)"
        lg, base = timings["LangGraph"].median, timings["asyncio"].median
        for label, t in timings.items():
            per_node, ratio_lg, ratio_asyncio = by_key[(graph, label)]
            assert float(per_node.split()[0].replace(",", "")) > 0
            assert ratio_lg == f"{t.median / lg:.3f}"
            assert ratio_asyncio == f"{t.median / base:.2f}"


def test_the_makespan_table_compares_each_contender_with_the_critical_path(
    tiny: tuple[Any, dict[str, Any], list[dict[str, Any]], str],
) -> None:
    _, measured, _, report = tiny
    rows = table_rows(report, "Makespan vs critical path")
    assert len(rows) == len(measured["makespan"]) * len(MAKESPAN_LABELS)
    for dag, timings in measured["makespan"]:
        for label in MAKESPAN_LABELS:
            t = timings[label]
            assert all(s > 0 for s in t.runs_s)
            # sleeping nodes: no contender can beat the critical path
            assert t.median * 1e3 >= dag.critical_path_ms() * 0.95, label


def test_the_sync_tool_table_compares_def_nodes_in_weft_and_langgraph_on_each_graph(
    tiny: tuple[Any, dict[str, Any], list[dict[str, Any]], str],
) -> None:
    _, measured, _, report = tiny
    rows = table_rows(report, "Sync tools")
    labels = [c.label for c in bench.sync_contenders()]
    assert labels[0] == "weft (def)" and all(label.startswith("LangGraph") for label in labels[1:])
    assert len(rows) == len(measured["sync"]) * len(labels)
    judged = verdicts(report)
    for dag, timings in measured["sync"]:
        assert set(timings) == set(labels)
        for t in timings.values():  # blocking sleeps: nobody beats the critical path
            assert t.median * 1e3 >= dag.critical_path_ms() * 0.95, t.label
        name = f"weft (def) / LangGraph (def) makespan, same threads, {dag.name}"
        assert judged[name] in ("PASS", "FAIL")


def test_the_big_run_reports_time_and_memory_for_each_weft_contender(
    tiny: tuple[Any, dict[str, Any], list[dict[str, Any]], str],
) -> None:
    _, _, big, _ = tiny
    weft_reports = [r for r in big if r["label"].startswith("weft")]
    assert [r["label"] for r in weft_reports] == ["weft", "weft+journal"]
    for r in weft_reports:
        assert r["runs_s"] and all(s > 0 for s in r["runs_s"])
        assert r["tracemalloc_peak_mb"] > 0


def test_every_target_has_a_verdict(
    tiny: tuple[Any, dict[str, Any], list[dict[str, Any]], str],
) -> None:
    config, measured, _, report = tiny
    judged = verdicts(report)
    assert set(judged.values()) <= VERDICTS
    nodes = config.big_layers * config.big_width
    for dag, _ in measured["overhead"]:
        assert judged[f"weft / LangGraph per-node, {dag.name}"] in ("PASS", "FAIL")
        assert judged[f"weft / asyncio per-node, {dag.name}"] in ("PASS", "FAIL")
        assert judged[f"tracing on / off extra per-node overhead, {dag.name}"] in ("PASS", "FAIL")
    for dag, _ in measured["makespan"]:
        assert judged[f"weft makespan / critical path, {dag.name}"] in ("PASS", "FAIL")
    assert judged[f"weft {nodes:,}-node run time"] in ("PASS", "FAIL")
    assert judged[f"weft {nodes:,}-node peak memory (max of both)"] in ("PASS", "FAIL")


def test_the_report_is_appended_after_earlier_sections(
    tiny: tuple[Any, dict[str, Any], list[dict[str, Any]], str], tmp_path: Path
) -> None:
    _, _, _, report = tiny
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nan earlier section\n")
    bench.append_results(results, "python bench/executor.py", report, "tiny", bench.machine())
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\nan earlier section\n")
    assert "## Executor benchmark," in text
    assert "- command: `python bench/executor.py`" in text
    assert report in text


# -- the verdicts, on results made up to pass or to miss --------------------------


def made_up_report(
    *, weft_s: float, makespan_factor: float, big_run_s: float, big_peak_mb: float
) -> str:
    """A report from invented timings: LangGraph 0.1 s and asyncio 1 ms per run of a chain."""
    config = bench.Config.tiny()
    chain = bench.chain_dag(10)
    lagging = bench.lagging_branch_dag(scale=0.05)
    per_run = {"asyncio": 0.001, "weft": weft_s, "weft+journal": weft_s, "LangGraph": 0.1}
    overhead = {label: bench.Timing(label, 0.01, [s]) for label, s in per_run.items()}
    critical_s = lagging.critical_path_ms() / 1e3
    makespan = {
        label: bench.Timing(label, 0.01, [critical_s * makespan_factor])
        for label in MAKESPAN_LABELS
    }
    big = [
        {
            "label": "weft",
            "build_s": 0.1,
            "first_s": big_run_s,
            "runs_s": [big_run_s],
            "tracemalloc_peak_mb": big_peak_mb,
            "peak_rss_mb": big_peak_mb,
        }
    ]
    measured = {"overhead": [(chain, overhead)], "makespan": [(lagging, makespan)]}
    return bench.render(config, measured, big)


def test_a_result_that_meets_every_target_passes_them_all() -> None:
    report = made_up_report(weft_s=0.005, makespan_factor=1.0, big_run_s=0.5, big_peak_mb=100)
    judged = verdicts(report)
    assert set(judged.values()) == {"PASS", "—"}
    assert [name for name, verdict in judged.items() if verdict == "PASS"] == [
        "weft / LangGraph per-node, chain-10",
        "weft / asyncio per-node, chain-10",
        "weft+journal / asyncio per-node, chain-10",
        f"weft makespan / critical path, {LAGGING}",
        f"weft+journal makespan / critical path, {LAGGING}",
        f"weft {BIG_NODES:,}-node run time",
        f"weft {BIG_NODES:,}-node peak memory (max of both)",
    ]


def test_a_result_that_misses_targets_fails_each_one_it_misses() -> None:
    report = made_up_report(weft_s=0.05, makespan_factor=1.5, big_run_s=5, big_peak_mb=500)
    judged = verdicts(report)
    assert judged["weft / LangGraph per-node, chain-10"] == "FAIL"  # 0.5, goal ≤ 0.1
    assert judged["weft / asyncio per-node, chain-10"] == "FAIL"  # 50, goal ≤ 10
    assert judged[f"weft makespan / critical path, {LAGGING}"] == "FAIL"  # 1.5, goal ≤ 1.05
    assert judged[f"weft {BIG_NODES:,}-node run time"] == "FAIL"  # 5 s, goal < 2 s
    assert judged[f"weft {BIG_NODES:,}-node peak memory (max of both)"] == "FAIL"  # 500 MB


def test_a_target_missed_by_a_hair_fails() -> None:
    # 0.101 of LangGraph's time per node against a goal of ≤ 0.1
    report = made_up_report(weft_s=0.0101, makespan_factor=1.0, big_run_s=0.5, big_peak_mb=100)
    assert verdicts(report)["weft / LangGraph per-node, chain-10"] == "FAIL"


def test_the_journal_modes_table_gives_batched_and_durable_per_node_and_their_ratio(
    tiny: tuple[Any, dict[str, Any], list[dict[str, Any]], str],
) -> None:
    _, measured, _, report = tiny
    rows = table_rows(report, "Journal modes")
    assert [row[0] for row in rows] == [dag.name for dag, _ in measured["journal"]]
    for (dag, timings), row in zip(measured["journal"], rows, strict=True):
        batched, durable = timings["weft+journal"], timings["weft+journal-durable"]
        assert row[4] == f"{durable.median / batched.median:.1f}", dag.name
    assert all(
        verdicts(report)[f"durable / batched journal per-node, {dag.name}"] == "—"
        for dag, _ in measured["journal"]
    )
