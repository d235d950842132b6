"""The bus benchmark runs end to end at tiny sizes and loses nothing.

No timing assertions: the numbers belong to ``bench/bus.py``. What is
checked is that every contender answers every call and that the loss check
would see a lost or doubled call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from weft.runtime.bus.mqtt.broker import MosquittoBroker

from .conftest import load_bench

bench = load_bench("bus")


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with MosquittoBroker() as broker:
        yield broker.url


async def test_latency_measures_every_call_of_both_contenders(url: str) -> None:
    latency = await bench.measure_latency(url, calls=20, blocks=2)
    assert len(latency["raw"]) == len(latency["weft"]) == 20
    assert all(t > 0 for t in latency["raw"] + latency["weft"])


@pytest.mark.parametrize("kind", ["raw", "weft"])
async def test_throughput_runs_against_several_worker_processes(url: str, kind: str) -> None:
    rate = await bench.measure_throughput(kind, url, workers=2, calls=60, concurrency=8)
    assert rate > 0


async def test_loss_check_counts_every_call_once(url: str) -> None:
    report = await bench.measure_loss(url, calls=120, workers=2, concurrency=8)
    assert (report.ok, report.lost, report.duplicated, report.served_twice) == (120, 0, 0, 0)
    assert sum(report.per_worker) == 121  # the calls and the final marker call
    assert all(served > 0 for served in report.per_worker), "the pool shares the calls"


async def test_remote_path_round_trips(url: str) -> None:
    assert len(await bench.measure_remote_latency(url, calls=10)) == 10


def test_report_marks_targets_and_appends_without_overwriting(tmp_path: Path) -> None:
    config = bench.Config.tiny()
    loss = bench.LossReport(
        calls=100, ok=99, lost=1, duplicated=0, served_twice=0, per_worker=[50, 50], elapsed_s=1
    )
    measured = bench.Measured(
        latency={"raw": [0.0005] * 10, "weft": [0.0006] * 10},
        throughput={(k, w): [1000.0] for k in ("raw", "weft") for w in config.worker_counts},
        loss=loss,
        remote=[0.001] * 10,
    )
    table = bench.render(config, measured)
    assert "| weft p50 / raw p50 | 1.20 | ≤ 1.3 | PASS |" in table
    assert "| 100-call run: lost | 1 | 0 | FAIL |" in table
    results = tmp_path / "RESULTS.md"
    results.write_text("# Executor benchmark results\n\nearlier section\n")
    bench.append_results(results, "python bench/bus.py --quick", table, "quick")
    text = results.read_text()
    assert text.startswith("# Executor benchmark results\n\nearlier section\n")
    assert "## Bus benchmark," in text and "mosquitto" in text


async def test_effects_check_counts_every_effect_of_a_weft_run_over_agent_processes(
    url: str, tmp_path: Path
) -> None:
    config = bench.Config.tiny()
    trials = await bench.measure_effects(url, config, lambda _: None, folder=tmp_path)
    assert [(t.state, t.lost, t.run_twice, t.moved) for t in trials] == [("succeeded", 0, 0, 0)]
    assert sum(trials[0].per_replica) == config.effects_calls
    table = bench.render_effects(config, trials)
    assert "| 40 calls in 1 trials: run twice | 0 | 0 | PASS |" in table


def test_the_effects_table_fails_a_call_run_twice() -> None:
    config = bench.Config.tiny()
    twice = bench.EffectTrial(
        calls=40, state="succeeded", elapsed_s=1.0, lost=0, run_twice=3, moved=0, per_replica=[43]
    )
    assert "| 40 calls in 1 trials: run twice | 3 | 0 | FAIL |" in bench.render_effects(
        config, [twice]
    )
