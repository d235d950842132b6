"""Elimination: which records are worth keeping when memory is pruned.

Iterative Experience Refinement kept about 11.5% of its experiences with no
loss of quality because most experiences repeat one another. Memory here
repeats the same way: every finished ask is recorded, so a task asked again
(a reuse) leaves a second record of the same plan. Pruning is therefore
redundancy-aware:

1. records are grouped by the plan they carry: a record that reused another
   belongs to that record's group (``reused_from``, followed to its root);
   records with no such link group by their masked task text (the same task
   with other parameters);
2. each group's best record comes first -- highest quality, then most used,
   then newest -- and groups are ranked by their value (quality x (1 + the
   uses of the whole group), with a bonus for the planner calls a reuse
   saves): one good representative per plan is what reuse needs;
3. the fraction left over is filled with the remaining records by value;
4. a dropped record whose group keeps a record is *merged* into it
   (``absorb``): its use counts add up, and its task joins the kept record's
   ``variants`` -- phrasings matched like the task itself -- so the group
   still answers every wording it answered before, with one plan.

Bad records (judged bad, or failed) score 0, go first and are never merged:
a phrasing whose reuse went wrong must not point at the plan again.
"""

from __future__ import annotations

from collections import defaultdict

from weft.runtime.memory.records import MemoryRecord
from weft.runtime.memory.signature import signature


def value(record: MemoryRecord, uses: int | None = None) -> float:
    """Quality x (1 + uses) x (1 + planner share); bad records score 0."""
    if not record.reusable():
        return 0.0
    quality = 1.0 if record.quality is None else record.quality
    if record.outcome == "good":
        quality = max(quality, 1.0)
    saves = 1.0 + min(record.usage.planner_calls, 5) / 5
    return quality * (1.0 + (record.uses if uses is None else uses)) * saves


def group_key(record: MemoryRecord, by_id: dict[str, MemoryRecord]) -> str:
    """The plan group of ``record``: the masked task text of its reuse root (or its own)."""
    seen: set[str] = set()
    root = record
    while root.reused_from and root.reused_from in by_id and root.id not in seen:
        seen.add(root.id)
        root = by_id[root.reused_from]
    return signature(root.task).masked.lower()


def _best_first(record: MemoryRecord) -> tuple[float, int, float]:
    quality = 0.0 if not record.reusable() else (record.quality or 1.0)
    return (-quality, -record.uses, -record.created)


#: Most phrasings one record keeps from the duplicates merged into it.
MAX_VARIANTS = 32


def absorb(order: list[MemoryRecord], kept: int) -> tuple[list[MemoryRecord], list[str]]:
    """Keep ``order[:kept]``; merge each dropped good record into its group's kept record.

    Returns (the kept records that changed, the ids dropped).
    """
    by_id = {r.id: r for r in order}
    keepers: dict[str, MemoryRecord] = {}
    for record in order[:kept]:
        keepers.setdefault(group_key(record, by_id), record)
    changed: dict[str, MemoryRecord] = {}
    for record in order[kept:]:
        head = keepers.get(group_key(record, by_id))
        if head is None or not record.reusable() or not head.reusable():
            continue
        head.uses += record.uses
        head.saved_calls += record.saved_calls
        head.saved_tokens += record.saved_tokens
        seen = {signature(t).masked.lower() for t in [head.task, *head.variants]}
        for text in [record.task, *record.variants]:
            masked = signature(text).masked.lower()
            if masked not in seen and len(head.variants) < MAX_VARIANTS:
                head.variants.append(text)
                seen.add(masked)
        changed[head.id] = head
    return list(changed.values()), [r.id for r in order[kept:]]


def prune_order(records: list[MemoryRecord]) -> list[MemoryRecord]:
    """``records`` in keeping order: each group's best record, best group first, then the rest."""
    by_id = {r.id: r for r in records}
    groups: dict[str, list[MemoryRecord]] = defaultdict(list)
    for record in records:
        groups[group_key(record, by_id)].append(record)
    heads: list[tuple[float, float, MemoryRecord]] = []
    rest: list[tuple[float, float, MemoryRecord]] = []
    for members in groups.values():
        members.sort(key=_best_first)
        # a duplicate is a repeat of the plan: count it as a use even where no link says so
        uses = max(sum(m.uses for m in members), len(members) - 1)
        score = value(members[0], uses)
        # a group with nothing reusable in it (judged bad) is worth nothing, not a head
        (heads if score > 0 else rest).append((score, members[0].created, members[0]))
        rest.extend((value(m), m.created, m) for m in members[1:])
    heads.sort(key=lambda item: (-item[0], -item[1]))
    rest.sort(key=lambda item: (-item[0], -item[1]))
    return [record for _, _, record in heads + rest]
