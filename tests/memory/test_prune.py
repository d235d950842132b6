"""Elimination on its own: duplicates of a plan go first, one good record per plan stays."""

from __future__ import annotations

from weft.runtime.memory import MemoryRecord, prune_order, single_subtask_plan


def record(task: str, created: float, **fields: object) -> MemoryRecord:
    plan = single_subtask_plan(task)
    return MemoryRecord(task=task, plan=plan, created=created, **fields)  # type: ignore[arg-type]


def test_each_plan_keeps_its_best_record_before_any_duplicate_is_kept() -> None:
    root = record("Translate the guide into Spanish", 1, uses=3)
    dupes = [
        record(f"Translate the guide into {lang}", 2 + i, reused_from=root.id)
        for i, lang in enumerate(("French", "German", "Italian"))
    ]
    # the same task with other parameters, asked again without a reuse link
    chart = [record(f"Plot sales for {y}", 10 + i) for i, y in enumerate((2023, 2024))]
    lone = record("Write a poem about rain", 20)
    bad = record("Review the pull request #1", 30, outcome="bad")
    order = prune_order([*dupes, lone, *chart, bad, root])
    heads = order[:3]  # three plans worth keeping: translate, plot, poem
    assert heads[0] is root  # the most used plan, and its root rather than a newer copy
    assert {r.task for r in heads[1:]} >= {"Write a poem about rain"}
    assert sum(r.task.startswith("Plot sales") for r in heads) == 1
    assert not any(r in heads for r in dupes)
    assert order[-1] is bad  # never reusable: first to go


def test_a_chain_of_reuses_is_one_group() -> None:
    a = record("Export the customer list to CSV", 1, uses=1)
    b = record("Export the supplier list to CSV", 2, uses=1, reused_from=a.id)
    c = record("Export the vendor list to CSV", 3, reused_from=b.id)
    other = record("Clean the customer list", 4)
    first, second, *_ = prune_order([c, b, other, a])
    assert first in (a, b) and second is other  # one export record, then the other plan
