"""The team's flow control as a small pure state machine: no I/O, no awaiting.

``FlowControl`` holds the current ``TeamState`` and refuses any move that
``TRANSITIONS`` does not list (``IllegalTransition``), so a bug in the
conversation loop shows up as an error, never as a team silently voting after
it concluded. ``state_for`` maps a member's move to the state it leads to; the
loop asks it, then moves the machine, then publishes. ``ends_execution_first``
says when a move must first take the team out of EXECUTION: a proposal is
put to a vote from a discussion, and a turn in EXECUTION only happens once
the execution's sync results are in, so the execution is over by then.
"""

from __future__ import annotations

from itertools import pairwise

from weft.protocols.teams import (
    TRANSITIONS,
    IllegalTransition,
    MemberReply,
    MessageType,
    TeamState,
)


class FlowControl:
    """The current state of one conversation and every state it went through."""

    __slots__ = ("history", "state")

    def __init__(self, start: TeamState = TeamState.TEAMUP) -> None:
        self.state = start
        self.history: list[TeamState] = [start]

    def move(self, to: TeamState) -> TeamState:
        """Go to ``to``; raises ``IllegalTransition`` when ``TRANSITIONS`` forbids it."""
        if to not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"a team cannot go from {self.state} to {to}")
        if to is not self.state:
            self.history.append(to)
        self.state = to
        return to

    @property
    def concluded(self) -> bool:
        return self.state is TeamState.CONCLUSION


def is_legal(states: list[TeamState]) -> bool:
    """True when every consecutive pair of ``states`` is a legal transition (or a stay)."""
    return all(b in TRANSITIONS[a] or a is b for a, b in pairwise(states))


def message_type_for(reply: MemberReply) -> MessageType:
    """The message a member's move becomes (assignments by their mode)."""
    if reply.act == "propose":
        return MessageType.PROPOSAL
    if reply.act == "vote":
        return MessageType.VOTE
    if reply.act == "conclude":
        return MessageType.CONCLUSION
    if reply.act == "pause":
        return MessageType.PAUSE
    if reply.act == "assign":
        sync = any(task.mode == "sync" for task in reply.tasks)
        return MessageType.ASSIGN_SYNC if sync else MessageType.ASSIGN_ASYNC
    return MessageType.SPEAK


def state_for(kind: MessageType, current: TeamState) -> TeamState:
    """The state a turn's message of ``kind`` leads to from ``current``.

    A proposal opens a vote, a sync assignment or a pause starts execution, a
    conclusion ends the team; an async assignment, speech and a vote keep the
    team where it is (a vote's tally decides what follows it).
    """
    if kind is MessageType.PROPOSAL:
        return TeamState.VOTE
    if kind in (MessageType.ASSIGN_SYNC, MessageType.PAUSE):
        return TeamState.EXECUTION
    if kind is MessageType.CONCLUSION:
        return TeamState.CONCLUSION
    if kind is MessageType.ASSIGN_ASYNC:
        return TeamState.DISCUSSION
    return current


def ends_execution_first(kind: MessageType, current: TeamState) -> bool:
    """True when a turn's message of ``kind`` must first return the team to DISCUSSION.

    A member's turn in EXECUTION comes after every sync result is in (the team
    waits for them before the next turn), so the execution is over. Speech,
    assignments, pauses and conclusions are legal moves from EXECUTION; a
    proposal is not (``TRANSITIONS`` has no EXECUTION -> VOTE: a vote is held in
    discussion), so the team posts a ``trigger`` back to DISCUSSION and then
    opens the vote, and every observer sees a legal sequence of states.
    """
    return current is TeamState.EXECUTION and kind is MessageType.PROPOSAL
