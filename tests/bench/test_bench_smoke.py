"""The executor benchmark runs, and its contenders compute the same thing on the same graph.

Tiny sizes, no timing assertions: the numbers belong to ``bench/executor.py``.
"""

from __future__ import annotations

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


async def _outputs(contender: Any, dag: Any) -> dict[int, Any]:
    _, values = await contender.run(contender.build(dag))
    return {sink: values[sink] for sink in dag.sinks}


@pytest.mark.parametrize("shape", sorted(TINY_DAGS))
async def test_every_contender_computes_the_same_outputs_on_the_same_graph(shape: str) -> None:
    dag = TINY_DAGS[shape]()
    expected = {sink: dag.expected()[sink] for sink in dag.sinks}
    results = {c.label: await _outputs(c, dag) for c in bench.contenders()}
    assert set(results) == {
        "asyncio",
        "weft",
        "weft+journal",
        "weft+trace",
        "weft+trace-inline",
        "LangGraph",
    }
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


def test_the_whole_benchmark_runs_at_tiny_size_and_appends_a_readable_report(
    tmp_path: Path,
) -> None:
    results = tmp_path / "RESULTS.md"
    table = bench.run_all(
        bench.Config.tiny(), out=results, command="pytest", mode="tiny", quiet=True
    )
    text = results.read_text()
    assert text.startswith("# Benchmark results")
    assert "python bench/executor.py" in text  # how to reproduce
    assert table in text
    for heading in ("Per-node orchestration overhead", "Makespan vs critical path", "Targets"):
        assert heading in table
    assert "PASS" in table or "FAIL" in table
