"""Whom a reply's top-level ``to`` hands the next turn to, for every kind of move.

``to`` means one thing on every move: the member who takes the next
discussion turn. A ``speak`` addressed to bob is followed by bob's turn; so
is an ``assign`` (once its sync results are in: ``"bob, outline please"``
then bob presents it) and a ``pause`` (once the tasks it waits for have
reported). Three moves leave no next turn to give, because the flow rules
fix what follows: a ``propose`` is voted on by every other member in the
team's order, a ``vote`` is one turn of that round, and a ``conclude`` ends
the conversation. A ``to`` on those used to be dropped without a word; it is
still not followed (a vote's order is not the proposer's to change), and the
message says so, in ``data.to_ignored`` and a ``note`` the members read, so a
model that keeps writing it learns why.

A ``to`` that is no member, or the speaker itself, is not followed on any
move (``task_checks.to_remark``).
"""

from __future__ import annotations

from collections.abc import Sequence

from weft.protocols.teams import MemberReply
from weft.runtime.teams.task_checks import to_remark

#: The moves whose next turn the flow rules fix, and why ``to`` has nothing to give.
NO_ADDRESSEE: dict[str, str] = {
    "propose": "every other member votes on a proposal, in the team's order",
    "vote": "the vote goes on in the team's order, then the tally decides",
    "conclude": "a conclusion ends the conversation, no one speaks next",
}

#: The moves on which ``to`` is followed, as the notes name them.
ADDRESSING_MOVES = ("speak", "assign", "pause")


def addressee(
    reply: MemberReply, speaker: str, names: Sequence[str], team: str, *, voting: bool
) -> tuple[str | None, dict[str, str]]:
    """The member ``reply`` hands the next turn to (None: the selector picks), and what the
    message's ``data`` says about a ``to`` not followed (``to_unknown``, ``to_self``,
    ``to_ignored``, with a ``note``). ``voting``: the reply answers a vote, whatever its act."""
    remark = to_remark(reply.to, speaker, names, team)
    if remark or not reply.to:
        return None, remark
    act = "vote" if voting else reply.act
    why = NO_ADDRESSEE.get(act)
    if why is None:
        return reply.to, {}
    note = (
        f"'to' ignored, no one addressed: {why}, so a {act} takes no 'to' "
        f"('to' names the next speaker on {', '.join(ADDRESSING_MOVES)})"
    )
    return None, {"to_ignored": reply.to, "note": note}
