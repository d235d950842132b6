"""``journal: durable``: each finished call is committed before anything that depends on it starts.

The journals here flush their batches only after an hour, so whatever is in
the file while a run goes was committed by the durable path, not by the
batch timer. A tool reads the file through a connection of its own, as a
process resuming the run after a crash would.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from weft import DefinitionError, Workflow, dumps_workflow, loads_workflow, tool
from weft.protocols import JournalMode
from weft.runtime import Journal, compile_workflow, run_workflow

HOUR = 3600.0


def committed_finishes(path: Path) -> list[str]:
    """The keys of the calls whose finish is committed to the journal file now."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT key FROM events WHERE kind = 'node_finished' ORDER BY seq")
        return [key for (key,) in rows]


def chain(path: Path, **options: Any) -> Workflow:
    """first -> second; second returns what the journal file held when it started."""

    @tool
    def first() -> int:
        return 1

    @tool
    def second(value: int) -> list[str]:
        return committed_finishes(path)

    workflow = Workflow("chain", **options)
    workflow.node("first", first)
    workflow.node("second", second, with_={"value": "${first}"}, after=["first"])
    return workflow


async def test_a_durable_run_commits_a_finished_call_before_its_dependent_starts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    with closing(Journal(path, flush_interval=HOUR)) as journal:
        result = await run_workflow(chain(path, journal="durable"), journal=journal, tracer=False)
    assert result.ok, result.error
    assert result.outputs["second"] == ["first"]


async def test_a_batched_run_may_start_a_dependent_before_the_finish_is_committed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    with closing(Journal(path, flush_interval=HOUR)) as journal:
        result = await run_workflow(chain(path), journal=journal, tracer=False)
    assert result.ok, result.error
    assert result.outputs["second"] == []  # the window a crash would re-run


async def test_journal_mode_given_to_the_run_overrides_the_workflows(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with closing(Journal(path, flush_interval=HOUR)) as journal:
        result = await run_workflow(
            chain(path, journal="batched"), journal=journal, tracer=False, journal_mode="durable"
        )
    assert result.outputs["second"] == ["first"]


async def test_calls_that_finish_together_share_one_commit(tmp_path: Path) -> None:
    @tool
    async def step(value: int) -> int:
        return value + 1

    workflow = Workflow("fan", journal="durable")
    workflow.node("source", step, with_={"value": 0})
    for i in range(20):
        workflow.node(f"n{i}", step, with_={"value": "${source}"}, after=["source"])
    commits: list[str] = []
    with closing(Journal(tmp_path / "journal.db", flush_interval=HOUR)) as journal:
        journal._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        result = await run_workflow(workflow, journal=journal, tracer=False)
        journal._db.set_trace_callback(None)
    assert result.ok, result.error
    # the source's finish, then one commit for the wave of 20 (not one per call)
    assert 2 <= len(commits) <= 4, commits


async def test_a_durable_run_syncs_every_commit_to_disk_while_it_runs(tmp_path: Path) -> None:
    seen: list[int] = []
    with closing(Journal(tmp_path / "journal.db", flush_interval=HOUR)) as journal:

        @tool
        async def look() -> None:  # on the loop's thread, where the connection lives
            seen.append(journal._db.execute("PRAGMA synchronous").fetchone()[0])

        workflow = Workflow("sync", journal="durable")
        workflow.node("look", look)
        await run_workflow(workflow, journal=journal, tracer=False)
        after = journal._db.execute("PRAGMA synchronous").fetchone()[0]
    assert seen == [2]  # FULL
    assert after == 1  # NORMAL again once no durable run is open
    assert not journal.durable_runs


async def test_durable_mode_reaches_the_calls_of_a_foreach_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    seen: list[str] = []

    @tool
    async def item(index: int) -> int:
        if index == 1:  # item 0 has finished: its finish reaches the file within a few turns
            for _ in range(100):  # of the loop (an hour, batched)
                await asyncio.sleep(0)
                seen[:] = committed_finishes(path)
                if seen:
                    break
        return index

    workflow = Workflow("items", journal="durable")
    workflow.node("each", item, foreach="${inputs.items}", with_={"index": "${item}"})
    workflow.input("items", default=[0, 1])
    with closing(Journal(path, flush_interval=HOUR)) as journal:
        result = await run_workflow(workflow, journal=journal, tracer=False)
    assert result.ok, result.error
    assert seen == ["each[0]"]


# -- the setting in YAML and Python ----------------------------------------------------

YAML = """\
name: durable-flow
journal: durable
nodes:
  a:
    action: step
"""


def test_yaml_says_journal_durable_and_it_round_trips() -> None:
    spec = loads_workflow(YAML)
    assert spec.journal is JournalMode.DURABLE
    text = dumps_workflow(spec)
    assert "journal: durable" in text
    assert loads_workflow(text) == spec


def test_the_default_mode_is_batched_and_is_not_written_out() -> None:
    spec = loads_workflow(YAML.replace("journal: durable\n", ""))
    assert spec.journal is JournalMode.BATCHED
    assert "journal" not in dumps_workflow(spec)


def test_an_unknown_journal_mode_is_refused_naming_the_field_and_line() -> None:
    with pytest.raises(DefinitionError) as refused:
        loads_workflow(YAML.replace("durable\n", "fast\n"), file="flow.yaml")
    message = str(refused.value)
    assert "journal" in message and "flow.yaml:2" in message


def test_the_journal_mode_is_not_part_of_the_graph_hash() -> None:
    @tool
    def step() -> int:
        return 1

    def build(mode: str) -> str:
        workflow = Workflow("same", journal=mode)
        workflow.node("a", step)
        return compile_workflow(workflow).graph_hash

    assert build("durable") == build("batched")
