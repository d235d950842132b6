"""Task ids in a team: unique, whoever chose them.

A member may give its tasks ids of its own (``{"id": "facts", ...}``) or
none; the team gives the missing ones ``t1``, ``t2``, ... Every id must be
unique in the conversation, since results, pauses and ``task_results`` are
keyed by it. Two rules keep them so:

- a generated id is ``t<n>`` for the first ``n`` from the number of tasks
  so far (plus one) whose id is free: not an earlier task's, and not one
  given explicitly in the same assignment (the member will refer to that
  one by the name it chose);
- an explicit id that repeats an earlier task's id (or one given twice in
  the same assignment) is renamed to a generated id, and the assignment's
  message says so (``data.renamed``: new id -> the id given, and a note the
  members read). Renaming rather than refusing keeps the task running, as
  the member asked; the note tells it which id to wait for. A ``wait_for``
  in the same reply that names a renamed id is read as the new task(s)
  (``follow``): the member meant the task it was handing out.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from weft.protocols.teams import Assignment


def numbered(
    tasks: Sequence[Assignment], taken: Mapping[str, Assignment]
) -> tuple[list[Assignment], dict[str, str]]:
    """``tasks`` with unique ids given the ids ``taken`` by earlier tasks, and what was
    renamed (new id -> the id the member gave). Does not change ``taken``."""
    fresh = [t.id for t in tasks if t.id and t.id not in taken]
    reserved = set(fresh)
    used = set(taken)
    counter = len(taken)
    out: list[Assignment] = []
    renamed: dict[str, str] = {}
    for task in tasks:
        if task.id and task.id not in used:
            used.add(task.id)
            out.append(task)
            continue
        counter += 1
        while f"t{counter}" in used or f"t{counter}" in reserved:
            counter += 1
        new = f"t{counter}"
        used.add(new)
        if task.id:
            renamed[new] = task.id
        out.append(task.model_copy(update={"id": new}))
    return out, renamed


def renaming_note(renamed: Mapping[str, str], followed: Mapping[str, list[str]]) -> str:
    """The note on an assignment whose ids were renamed (``numbered``), and the ``wait_for``
    ids that follow them (``follow``); empty when nothing was renamed."""
    parts = [
        f"task id '{given}' is taken by an earlier task: this task is '{new}'"
        for new, given in renamed.items()
    ]
    if followed:
        moved = "; ".join(f"{old} -> {', '.join(new)}" for old, new in followed.items())
        parts.append(f"wait_for follows: {moved}")
    return "; ".join(parts)


def follow(
    wait_for: Sequence[str], renamed: Mapping[str, str]
) -> tuple[list[str], dict[str, list[str]]]:
    """``wait_for`` of the reply that renamed ``renamed`` (new -> given), each renamed id
    replaced by the new id(s) of the tasks it named; and what was replaced (given -> new)."""
    by_given: dict[str, list[str]] = {}
    for new, given in renamed.items():
        by_given.setdefault(given, []).append(new)
    out: list[str] = []
    followed: dict[str, list[str]] = {}
    for task_id in wait_for:
        if task_id in by_given:
            followed[task_id] = by_given[task_id]
            out.extend(i for i in by_given[task_id] if i not in out)
        else:
            out.append(task_id)
    return out, followed


def take_ids(
    tasks: Sequence[Assignment],
    wait_for: Sequence[str],
    taken: MutableMapping[str, Assignment],
    data: dict[str, Any],
) -> tuple[list[Assignment], list[str]]:
    """Number the ``tasks`` of one reply (``numbered``) and add them to ``taken``; returns
    them and the reply's ``wait_for`` following any renaming, which is said in the
    message's ``data`` (``renamed``, and a ``note`` after any note already there)."""
    out, renamed = numbered(tasks, taken)
    taken.update((t.id, t) for t in out)
    waits, followed = follow(wait_for, renamed)
    if renamed:
        note = renaming_note(renamed, followed)
        data.update(renamed=renamed, note="; ".join(filter(None, (data.get("note"), note))))
    return out, waits
