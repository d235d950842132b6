"""The hop benchmark runs every leg end to end at tiny sizes and checks every answer.

No timing assertions: the numbers belong to ``bench/hops.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import load_bench

bench = load_bench("hops")

TINY = bench.Config(
    latency_calls=6, latency_blocks=2, warmup_calls=2, throughput_calls=6, concurrency=2
)


async def test_every_leg_answers_and_is_measured() -> None:
    results = await bench.run(TINY, bench.LEGS, lambda _: None)
    assert [r.name for r in results] == list(bench.LEGS)
    for r in results:
        assert len(r.latencies) == 6 and all(t > 0 for t in r.latencies), r.name
        assert r.rate > 0, r.name
    table = bench.render(TINY, results)
    assert all(f"| {name} |" in table for name in bench.LEGS)


@asynccontextmanager
async def wrong_echo() -> AsyncIterator[Any]:
    """A leg without a context argument, whose server answers something else."""

    async def call(args: dict[str, Any]) -> dict[str, Any]:
        return {**args, "n": -1}

    yield call


async def test_a_leg_that_answers_wrong_fails_the_run(tmp_path: Path) -> None:
    ctx = bench.HopContext("mqtt://unused", bench.ECHO_TARGET, tmp_path)
    legs = {"in-process": bench.in_process, "wrong": wrong_echo}
    with pytest.raises(RuntimeError, match="echo answered"):
        await bench.measure(TINY, ctx, legs)
