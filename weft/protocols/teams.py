"""IoA teams and FoA clusters on the wire: flow-control states, member replies, team messages.

A team (Internet of Agents) is an action whose members converse on one topic,
``weft/{ns}/teams/{team}``. Every message on it is a ``TeamMessage`` (JSON),
so anything that can read MQTT (``mosquitto_sub -t 'weft/default/teams/#'``)
can follow a conversation. The conversation moves through ``TeamState``s and
only along ``TRANSITIONS``; ``state_after`` says where a member's move takes
it. A member answers its turn with a ``MemberReply`` (see docs/teams.md for
the member protocol), which an LLM agent produces as structured output and a
plain Python function as a dict.

These are data only; the runtime's ``weft.runtime.teams`` runs them.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols.actions import new_call_id
from weft.protocols.errors import WeftError


class TeamState(StrEnum):
    """Where a team's conversation is (IoA flow control)."""

    TEAMUP = "TEAMUP"
    """Members are being found (router or explicit list); nobody has spoken."""
    DISCUSSION = "DISCUSSION"
    """Members speak one per turn; async tasks may be running."""
    VOTE = "VOTE"
    """A proposal is on the table; each other member casts one vote, one per turn."""
    EXECUTION = "EXECUTION"
    """Assigned tasks run: a sync assignment, or a pause until named async tasks report."""
    CONCLUSION = "CONCLUSION"
    """The team has its answer; nothing follows."""


#: The only legal moves: state -> the states it may go to next (staying is listed explicitly).
TRANSITIONS: dict[TeamState, frozenset[TeamState]] = {
    TeamState.TEAMUP: frozenset({TeamState.DISCUSSION, TeamState.CONCLUSION}),
    TeamState.DISCUSSION: frozenset(
        {TeamState.DISCUSSION, TeamState.VOTE, TeamState.EXECUTION, TeamState.CONCLUSION}
    ),
    TeamState.VOTE: frozenset(
        {TeamState.VOTE, TeamState.DISCUSSION, TeamState.EXECUTION, TeamState.CONCLUSION}
    ),
    TeamState.EXECUTION: frozenset(
        {TeamState.EXECUTION, TeamState.DISCUSSION, TeamState.CONCLUSION}
    ),
    TeamState.CONCLUSION: frozenset(),
}


class IllegalTransition(WeftError):
    """A team tried to move between two states that ``TRANSITIONS`` does not connect."""


class MessageType(StrEnum):
    """What a message on a team topic is; ``sender`` says who sent it."""

    TEAM_UP = "team_up"
    """The team is formed: ``data.members`` lists who is in it (sender: the team)."""
    SPEAK = "speak"
    """A member's turn in the discussion."""
    PROPOSAL = "proposal"
    """A member puts ``text`` (and maybe ``tasks``) to the vote."""
    VOTE = "vote"
    """A member's ``vote`` (yes/no/abstain) on the open proposal."""
    DECISION = "decision"
    """The tally of a vote: ``data.accepted``, ``data.yes``, ``data.no``."""
    ASSIGN_SYNC = "assign_sync"
    """Tasks assigned; the assigner (and the conversation) waits for every result."""
    ASSIGN_ASYNC = "assign_async"
    """Tasks assigned; the conversation goes on, results arrive later."""
    PROGRESS = "progress"
    """An assignee's progress report on a running task (``task_id``)."""
    TASK_RESULT = "task_result"
    """An assignee's result for ``task_id`` (``output``; ``data.ok`` false on failure)."""
    PAUSE = "pause"
    """The conversation waits until every task in ``wait_for`` has reported."""
    TRIGGER = "trigger"
    """The conversation resumes: every task a pause waited for has reported, or (with
    ``data.reason: "proposal"``) a member proposes once a sync task's results are in."""
    MEMBER_REPLACED = "member_replaced"
    """A member died (error, agent lost) and ``data.replacement`` took its place."""
    CONCLUSION = "conclusion"
    """The team's answer in ``text``; ``data.reason`` says why it ended."""
    DRAFT = "draft"
    """Cluster: a member's first answer to its subtask."""
    REFINEMENT = "refinement"
    """Cluster: a member's answer refined after reading its peers' (``round``)."""
    SYNTHESIS = "synthesis"
    """Cluster: the one combined answer made after the last round."""


MemberAct = Literal["speak", "propose", "vote", "assign", "pause", "conclude"]


class Assignment(BaseModel):
    """One task a member hands to another member (or to itself)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default="", description="Task id, unique in the team; given when empty.")
    to: str = Field(description="Name of the member who does the task.")
    task: str = Field(description="What to do, in plain language.")
    mode: Literal["sync", "async"] = Field(
        default="sync",
        description="sync: the conversation waits for the result; async: it arrives later.",
    )


class MemberReply(BaseModel):
    """What a member answers on its turn: its move in the conversation.

    An LLM agent gives it as structured output (``output_type=MemberReply``);
    a Python function returns a dict of these fields, or a plain string (a
    ``speak``). Fields a move does not use are ignored.
    """

    model_config = ConfigDict(extra="ignore")

    act: MemberAct = Field(
        default="speak",
        description="speak | propose (put text to a vote) | vote | assign (tasks) | "
        "pause (wait for async tasks in wait_for) | conclude (text is the team's answer).",
    )
    text: str = Field(default="", description="What the member says; the answer for conclude.")
    to: str | None = Field(default=None, description="A member addressed by name: it speaks next.")
    vote: Literal["yes", "no", "abstain"] | None = Field(
        default=None, description="The vote, when act is vote."
    )
    tasks: list[Assignment] = Field(
        default_factory=list, description="Tasks, when act is assign (or propose)."
    )
    wait_for: list[str] = Field(
        default_factory=list,
        description="Ids of async tasks to wait for (pause, or assign then pause).",
    )


class SpeakerChoice(BaseModel):
    """An LLM speaker selector's answer: the member who speaks next."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="Name of the member who should speak next.")
    reason: str = Field(default="", description="Why, in a sentence.")


class TeamMessage(BaseModel):
    """One message on a team topic (``weft/{ns}/teams/{team}``), JSON on the wire."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=new_call_id, description="Unique id of the message.")
    team: str = Field(description="The conversation (team instance) it belongs to.")
    type: MessageType = Field(description="What the message is.")
    sender: str = Field(description="A member's name, or the team's own name.")
    state: TeamState = Field(description="The team's state once this message is taken in.")
    turn: int | None = Field(
        default=None, description="Speaker turn (1, 2, ...); None for messages that are not turns."
    )
    text: str = Field(default="", description="What was said.")
    to: str | None = Field(default=None, description="Member addressed, if any.")
    vote: str | None = Field(default=None, description="yes, no or abstain for a vote.")
    tasks: list[Assignment] = Field(default_factory=list, description="Assigned tasks.")
    wait_for: list[str] = Field(default_factory=list, description="Task ids a pause waits for.")
    task_id: str | None = Field(default=None, description="Task a result or progress is about.")
    output: Any = Field(default=None, description="A task's result, or a cluster member's answer.")
    data: dict[str, Any] = Field(default_factory=dict, description="Structured extras.")
    at: float = Field(default_factory=time.time, description="Unix time it was sent.")


class TeamOutcome(BaseModel):
    """What a team action returns: the conclusion and how the team got there."""

    model_config = ConfigDict(extra="ignore")

    team: str = Field(description="The team's name.")
    conversation: str = Field(description="Id of this conversation (its topic segment).")
    conclusion: str = Field(description="The team's answer.")
    reason: str = Field(
        description="concluded | vote | max_turns | pause_timeout | member_lost | no_members"
    )
    turns: int = Field(description="Speaker turns taken.")
    messages: int = Field(description="Messages on the team topic.")
    members: list[str] = Field(default_factory=list, description="Who was in the team at the end.")
    task_results: dict[str, Any] = Field(
        default_factory=dict, description="Output of every task that reported, by task id."
    )
    states: list[TeamState] = Field(
        default_factory=list, description="The states the team went through, in order."
    )
