"""Checking an assignment when it is made: every task must name a member of the team.

A member hands out tasks by name (``{"to": "bob", ...}``), and small LLMs
often write something else: a number (``"to": "1"``), an empty string, a
member that was replaced, a name in other case. Such a task cannot run, and
the team should say so at once, where the assigner reads it, rather than
when (or whether) a result comes back. The conversation refuses the task
with a message naming the unknown member and the members that exist, so an
LLM lead can assign it again; the valid tasks of the same assignment go
ahead. A proposal whose plan names an unknown member is not put to the vote:
its voters would accept a plan that cannot run as written, and dropping the
bad tasks would change it (a proposal without tasks is the team's answer).

The same holds for the top-level ``to`` of a reply (who should speak next):
a name that is no member is not followed, and the message carries a note
that says so (``to_refusal``), in the same words. Nor is a ``to`` that names
the speaker itself (a member would only hand the turn to itself): it is
noted the same way (``to_remark``), so a model that keeps doing it reads why
someone else speaks next.

A member may assign a task to itself (``Assignment`` says so): it is called
again, in ``task`` mode, like any assignee.
"""

from __future__ import annotations

from collections.abc import Sequence

from weft.protocols.hints import close_names, meant
from weft.protocols.teams import Assignment

#: Member names listed in a refusal at most; the rest are counted.
SHOWN_MEMBERS = 12


def why_no_member(name: str, names: Sequence[str], team: str) -> str | None:
    """Why ``name`` is no member of team ``team`` of members ``names``, or None if it is one."""
    if name in names:
        return None
    if not name.strip():
        return "it names no member ('to' is empty)"
    # matched case-insensitively (a model writes 'ALICE' for 'alice'), said as the member is
    close = close_names(name.lower(), [n.lower() for n in names], n=1)
    member = next((n for n in names if close and n.lower() == close[0]), None)
    hint = f" ({meant([member])})" if member else ""
    return f"'{name}' is no member of team '{team}'{hint}"


def why_refused(task: Assignment, names: Sequence[str], team: str) -> str | None:
    """Why ``task`` cannot be assigned in team ``team`` of members ``names``, or None."""
    return why_no_member(task.to, names, team)


def refusals(tasks: Sequence[Assignment], names: Sequence[str], team: str) -> dict[str, str]:
    """The tasks of ``tasks`` that name no member, by id, with why (``why_refused``)."""
    out: dict[str, str] = {}
    for task in tasks:
        why = why_refused(task, names, team)
        if why is not None:
            out[task.id] = why
    return out


def members_line(names: Sequence[str]) -> str:
    """``the members are a, b, c`` (cut at ``SHOWN_MEMBERS``, the rest counted)."""
    shown = ", ".join(names[:SHOWN_MEMBERS]) or "none"
    more = len(names) - SHOWN_MEMBERS
    return "the members are " + shown + (f" and {more} more" if more > 0 else "")


def task_refusal(task_id: str, why: str, names: Sequence[str]) -> str:
    """The text of the ``task_result`` that refuses one task of an assignment."""
    return f"task {task_id} refused, not started: {why}; {members_line(names)}"


def proposal_refusal(refused: dict[str, str], names: Sequence[str]) -> str:
    """The text of the ``decision`` that refuses a proposal before its vote."""
    reasons = "; ".join(f"task {i}: {why}" for i, why in refused.items())
    return (
        f"proposal not put to the vote: {reasons}; {members_line(names)}; "
        "propose again with tasks for members"
    )


def to_refusal(to: str, names: Sequence[str], team: str) -> str | None:
    """The note on a reply whose top-level ``to`` names no member, or None when it names one.

    The reply still counts; only its ``to`` is dropped, so the next speaker is
    chosen as if no one were addressed. An empty ``to`` addresses no one and
    is no mistake.
    """
    if not to.strip():
        return None
    why = why_no_member(to, names, team)
    if why is None:
        return None
    return f"'to' ignored, no one addressed: {why}; {members_line(names)}"


def to_remark(to: str | None, speaker: str, names: Sequence[str], team: str) -> dict[str, str]:
    """What the message of ``speaker``'s reply says about its top-level ``to`` when it is
    not followed: ``{"to_unknown": to, "note": ...}`` for a name that is no member
    (``to_refusal``), ``{"to_self": to, "note": ...}`` for the speaker itself; else ``{}``."""
    if not to:
        return {}
    if to == speaker:
        note = (
            f"'to' ignored, no one addressed: '{to}' is the speaker itself, and a member "
            f"cannot address itself; {members_line(names)}"
        )
        return {"to_self": to, "note": note}
    refused = to_refusal(to, names, team)
    return {} if refused is None else {"to_unknown": to, "note": refused}
