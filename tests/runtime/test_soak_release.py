"""One process running many workflows gives back what each run took.

A service calls ``run_workflow`` thousands of times in one process. Each run
may open worker threads, asyncio tasks, and the journal and trace store; what
stays open must be the shared stores and pools of the first run, not one more
per run. Counts are compared after a warm-up (the stores open, the pool
started) with a small margin; ``bench/soak.py`` measures the same at 10,000
runs, with RSS and latency.
"""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path
from typing import Any

import pytest

from weft import Workflow, run_workflow, tool

WARM_UP = 20
RUNS = 200


@tool
def soak_release_split(text: str) -> list[str]:
    return text.split()


@tool
async def soak_release_upper(word: str) -> str:
    return word.upper()


@tool
def soak_release_count(words: list[str]) -> int:
    return len(words)


@tool
async def soak_release_long(count: int) -> str:
    return "long"


def workflow() -> Workflow:
    """A plain ``def`` tool, a foreach of an ``async def`` tool, and a conditional edge."""
    wf = Workflow("soak-release")
    split = wf.node("split", soak_release_split, with_={"text": "${inputs.text}"})
    each = wf.node(
        "upper", soak_release_upper, after=split, foreach="${split}", with_={"word": "${item}"}
    )
    wf.node("count", soak_release_count, after=each, with_={"words": "${upper}"})
    wf.node("long", soak_release_long, with_={"count": "${count}"})
    wf.edge("count", "long", when="output > 2")
    return wf


def held() -> tuple[int, int, int, int]:
    """Open fds, threads, asyncio tasks, and weft's own objects the collector tracks.

    Only weft's objects: the loop's timer handles and weak references come and
    go by the hundred between two counts, and would hide a leak of one per run.
    """
    gc.collect()
    return (
        len(os.listdir("/proc/self/fd")),
        len(os.listdir("/proc/self/task")),
        len(asyncio.all_tasks()),
        sum(1 for o in gc.get_objects() if _of_weft(type(o))),
    )


def _of_weft(kind: type) -> bool:
    module = vars(kind).get("__module__")  # a metaclass's ``__module__`` is a descriptor
    return isinstance(module, str) and module.startswith("weft.")


@pytest.mark.parametrize(
    "recording",
    [
        pytest.param({}, id="journal-and-traces"),
        pytest.param({"tracer": False}, id="journal-only"),
        pytest.param({"journal": False, "tracer": False}, id="nothing-recorded"),
    ],
)
async def test_many_runs_in_one_process_hold_no_more_than_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recording: dict[str, Any]
) -> None:
    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "home"))
    wf = workflow()

    async def runs(count: int) -> None:
        for _ in range(count):
            result = await run_workflow(wf, {"text": "to be or not to be"}, **recording)
            assert result.ok and result.outputs["long"] == "long"

    await runs(WARM_UP)
    fds, threads, tasks, objects = held()
    await runs(RUNS)
    after_fds, after_threads, after_tasks, after_objects = held()
    assert after_fds <= fds + 1
    assert after_threads <= threads + 1
    assert after_tasks == tasks
    # one object kept per run would add RUNS; the first runs warmed every cache
    assert after_objects - objects < RUNS // 10
