"""``bench/llm_fanout.py`` runs its parallel LLM calls and reports one wall time a round."""

from __future__ import annotations

from .conftest import load_bench

bench = load_bench("llm_fanout")


async def test_the_fanout_runs_every_call_and_times_each_round() -> None:
    walls = await bench.measure(calls=4, delay=0.05, rounds=2)
    assert len(walls) == 2
    assert all(wall >= 0.05 for wall in walls)  # every round waited for its answers
