"""One conformance suite for the experience store: embedded Chroma and a ``chroma run`` server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from weft.protocols import WeftError
from weft.runtime.memory import ExperienceMemory, MemoryRecord, StepRecord, single_subtask_plan
from weft.runtime.routing.embeddings import EmbeddingMismatchError, make_embedder

_MINILM = make_embedder("minilm")


@pytest.fixture(params=["embedded", "server"])
def memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExperienceMemory]:
    if request.param == "embedded":
        yield ExperienceMemory.open(tmp_path / "memory", embedder=_MINILM)
        return
    url = request.getfixturevalue("chroma_server")
    store = ExperienceMemory.open(url=url, embedder=_MINILM)
    store.delete([r.id for r in store.records()])  # one server for the session: start empty
    yield store


def record(task: str, **fields: object) -> MemoryRecord:
    return MemoryRecord(task=task, plan=single_subtask_plan(task), **fields)  # type: ignore[arg-type]


def test_a_record_comes_back_as_it_was_added(memory: ExperienceMemory) -> None:
    rid = memory.add(record("Translate the onboarding guide into Spanish", outcome="good"))
    got = memory.get(rid)
    assert got.task == "Translate the onboarding guide into Spanish"
    assert got.outcome == "good" and got.plan["subtasks"][0]["description"] == got.task
    assert [r.id for r in memory.records()] == [rid]


def test_a_parameter_change_reuses_and_another_operation_does_not(
    memory: ExperienceMemory,
) -> None:
    rid = memory.add(record("Translate the onboarding guide into Spanish"))
    decision, found = memory.match("Translate the onboarding guide into Japanese")
    assert found is not None and found.id == rid and decision.similarity > 0.9
    decision, found = memory.match("Summarize the onboarding guide")
    assert found is None and "operation differs" in decision.why


def test_a_record_judged_bad_is_never_reused(memory: ExperienceMemory) -> None:
    memory.add(record("Write a poem about autumn in Kyoto", run_id="run-1"))
    memory.feedback("run-1", "bad")
    assert memory.match("Write a poem about winter in Oslo")[1] is None


def test_copies_of_a_plan_judged_bad_are_not_reused_either(memory: ExperienceMemory) -> None:
    """An ask that reused a plan stores it again; a bad verdict on the original covers it."""
    first = record("Translate the employee handbook into Spanish", run_id="run-a")
    memory.add(first)
    copy = record(
        "Translate the employee handbook into French", run_id="run-b", reused_from=first.id
    )
    memory.add(copy)
    again = record("Translate the staff handbook into German", run_id="run-c", reused_from=copy.id)
    memory.add(again)
    task = "Translate the employee handbook into Italian"
    assert memory.match(task)[1] is not None
    memory.feedback("run-a", "bad")
    assert memory.match(task)[1] is None
    memory.feedback("run-c", "good")  # the user vouches for this copy: it serves again
    found = memory.match(task)[1]
    assert found is not None and found.id == again.id


def test_feedback_for_an_unknown_run_is_a_clear_error(memory: ExperienceMemory) -> None:
    with pytest.raises(WeftError, match="no memory record for run 'nope'"):
        memory.feedback("nope", "good")


def test_prune_keeps_the_most_used_fraction(memory: ExperienceMemory) -> None:
    tasks = [f"Write a poem about {w}" for w in ("rain", "snow", "wind", "fog")] + [
        f"Compare the pricing plans of {a} and {b}" for a, b in (("Asana", "Jira"), ("X", "Y"))
    ]
    ids = [memory.add(record(t)) for t in tasks]
    used = memory.get(ids[5])
    memory.note_reuse(used, 1, 100)
    dropped = memory.prune(0.34)
    assert len(memory) == 2 and ids[5] not in dropped
    kept = {r.task for r in memory.records()}
    assert any("poem" in t for t in kept)  # breadth: one of each kind before a second


def test_export_then_import_restores_every_record(memory: ExperienceMemory, tmp_path: Path) -> None:
    ids = {
        memory.add(record(t)) for t in ("Back up the production database to S3", "Write a tweet")
    }
    memory.export(tmp_path / "mem.jsonl")
    memory.delete(list(ids))
    assert len(memory) == 0
    assert memory.import_file(tmp_path / "mem.jsonl") == 2
    assert {r.id for r in memory.records()} == ids


def test_step_examples_come_from_the_agents_own_pool_or_the_shared_one(
    memory: ExperienceMemory,
) -> None:
    memory.add_step(StepRecord(agent="writer", input="Write a haiku about rain", output="Rain..."))
    memory.add_step(StepRecord(agent="coder", input="Write a haiku about code", output="Code..."))
    memory.add_step(StepRecord(agent="writer", input="Poem on fog", output="bad", quality=0.1))
    own = memory.examples("Write a haiku about snow", agent="writer", k=3, shared=False)
    assert [s.output for s in own] == ["Rain..."]
    # own pool first, then filled from the shared pool; the bad step never comes back
    mixed = memory.examples("Write a haiku about snow", agent="coder", k=3)
    assert [s.output for s in mixed] == ["Code...", "Rain..."]
    shared = memory.examples("Write a haiku about snow", k=3)
    assert {s.agent for s in shared} == {"writer", "coder"}


def test_opening_with_another_embedder_is_a_clear_error(tmp_path: Path) -> None:
    ExperienceMemory.open(tmp_path / "m", embedder=_MINILM).add(record("Write a poem"))
    with pytest.raises(EmbeddingMismatchError, match="all-MiniLM-L6-v2") as caught:
        ExperienceMemory.open(tmp_path / "m", embedder="hashing")
    assert f"experience memory {tmp_path / 'm'}" in str(caught.value)
    assert "--memory" in str(caught.value)


def test_memory_survives_a_restart(tmp_path: Path) -> None:
    rid = ExperienceMemory.open(tmp_path / "m", embedder=_MINILM).add(
        record(f"Write a report on churn {uuid.uuid4().hex[:4]}")
    )
    reopened = ExperienceMemory.open(tmp_path / "m", embedder=_MINILM)
    assert reopened.get(rid).id == rid


def test_prune_merges_duplicates_into_the_record_kept(memory: ExperienceMemory) -> None:
    root = record("Translate the onboarding guide into Spanish", outcome="good")
    memory.add(root)
    for text in ("Please translate the travel policy into Italian", "Translate the FAQ into Thai"):
        memory.add(record(text, reused_from=root.id, uses=1))
        memory.note_reuse(memory.get(root.id), 1, 10)
    memory.add(record("Write a poem about rain"))
    memory.prune(0.25)
    [kept] = memory.records()
    assert kept.id == root.id and kept.uses == 4  # its own two reuses and theirs
    assert sorted(kept.variants) == [
        "Please translate the travel policy into Italian",
        "Translate the FAQ into Thai",
    ]
    _, found = memory.match("Could you translate the travel policy into Korean?")
    assert found is not None and found.id == root.id
    memory.delete([root.id])
    assert memory.match("Please translate the travel policy into Korean")[1] is None


def test_a_reuse_that_went_bad_is_not_repeated_for_tasks_like_it(
    memory: ExperienceMemory,
) -> None:
    guide = record("Translate the onboarding guide into Spanish", outcome="good")
    memory.add(guide)
    failed = record(
        "Translate the onboarding video subtitles into French",
        reused_from=guide.id,
        outcome="bad",
    )
    memory.add(failed)
    refused, found = memory.match("Translate the onboarding video subtitles into German")
    assert found is None and any("went bad" in r for r in refused.rejected)
    assert memory.match("Translate the onboarding guide into Korean")[1] is not None
