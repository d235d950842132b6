"""Checking a pause when it is made: it waits only for tasks that will report.

A member pauses on task ids (``{"act": "pause", "wait_for": [...]}``), and
an id may belong to no task that will ever report: a task of a proposal that
was rejected, or refused before its vote (``task_checks``), or an id that no
task has. Waiting for such an id would hold the conversation until
``pause_timeout`` (600 s by default) for nothing. The pause waits only for
the tasks that are running or have reported; the others are named at once,
in the pause message's ``data`` and in a ``note`` the members read in their
history, worded like the refusals of ``task_checks``. A pause left with
nothing that can report ends at once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

#: Why a waited-for id will never report, when it is no task's id.
NO_SUCH_TASK = "no task has that id"
#: Why, for a task that exists but was never started, when no more is known.
NEVER_STARTED = "it was never started"


@dataclass(frozen=True)
class PauseCheck:
    """What a pause on ``wait_for`` waits for, and what it cannot wait for."""

    #: Ids of tasks that are running or have reported: the pause waits for these.
    waits: list[str] = field(default_factory=list)
    #: Ids no task has (never assigned).
    unknown: list[str] = field(default_factory=list)
    #: Ids of tasks that were never started (and never will be), with why.
    never_started: dict[str, str] = field(default_factory=dict)
    #: Every id that will never report, with why, in the order the pause named them.
    skipped: dict[str, str] = field(default_factory=dict)


def check_pause(
    wait_for: Sequence[str],
    assigned: Collection[str],
    reporting: Collection[str],
    dropped: Mapping[str, str],
) -> PauseCheck:
    """Split ``wait_for`` (duplicates dropped) into what a pause can wait for and what not.

    ``assigned`` are the ids of every task handed out or proposed,
    ``reporting`` those running or reported, ``dropped`` why a task was not
    started (its proposal rejected or refused).
    """
    check = PauseCheck()
    for task_id in dict.fromkeys(wait_for):
        if task_id in reporting:
            check.waits.append(task_id)
        elif task_id not in assigned:
            check.unknown.append(task_id)
            check.skipped[task_id] = NO_SUCH_TASK
        else:
            why = dropped.get(task_id, NEVER_STARTED)
            check.never_started[task_id] = check.skipped[task_id] = why
    return check


def pause_note(check: PauseCheck) -> str:
    """The note on a pause that names ids that will never report ("" when there are none)."""
    if not check.skipped:
        return ""
    parts = [
        f"not waiting for task {i}, it will never report: {why}" for i, why in check.skipped.items()
    ]
    waiting = ", ".join(check.waits)
    parts.append(f"waiting for {waiting}" if waiting else "nothing to wait for")
    return "; ".join(parts)
