"""What a team or cluster saves when a member asks a person, so that member goes on from there.

A team resumed with answers runs its conversation again from its start
(``weft.agents.answering``); the member call that asked is called again with
its answers. A member that saves its own state when it asks (an ``LLMAgent``'s
conversation, a nested team's ``MemberState``) would still start over unless
the team hands that state back. So the team's ``needs_input`` result carries
``resume_state``: this module's ``MemberState``, holding the asking member's
state nested in it, and the resumed team gives it to the same member call.

"The same call" is the call that starts as the same number (``Answering``
numbers member calls in the order they start), of the same member, with the
same arguments (a digest of its ``task`` and ``context``): a replay that
went another way (a member answered differently) does not match, and the
member starts again from its beginning, as before states were saved. The
question and the answers given are kept too, so the matched call is not made
again without its answers first (``Answering.call(asked=...)``).

The member calls that finished before the team stopped are kept too
(``replies``: their results, by the same number, member and digest). The
resumed team does not call those members again: each such call gets its
saved result back, so the conversation replays as it went, and only the
member that asked is called (a Python member's side effects, an LLM member's
model requests, an assigned task's work are not done twice). A call that had
taken answers (it asked in an earlier stop) takes the same answers again,
in its place in the order (``Answering``), and gets its saved result for
them; given other answers, it is called. A call whose result is not JSON is
made again; a replay that went another way matches nothing from there on,
and members are called.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weft.protocols import ActionResult, ActionState, ErrorInfo

log = logging.getLogger("weft.teams")

#: ``MemberState.kind``: tells a team's saved state from any other action's.
STATE_KIND: Final = "weft.team_member"


#: Context keys that differ on every team call (the conversation's id): not in the digest.
CALL_IDS: Final = frozenset({"conversation"})


def digest(arguments: dict[str, Any]) -> str:
    """A short, stable digest of a member call's arguments (its task and context), without
    the ids each team call makes anew (``CALL_IDS``)."""
    context = arguments.get("context")
    if isinstance(context, dict):
        context = {k: v for k, v in context.items() if k not in CALL_IDS}
        arguments = {**arguments, "context": context}
    text = json.dumps(arguments, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class SavedReply(BaseModel):
    """A member call that finished before the team stopped, and what it was given."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, description="The member call's number in start order (from 1).")
    member: str = Field(description="The member called.")
    arguments: str = Field(description="Digest of the member call's arguments (``digest``).")
    result: dict[str, Any] = Field(description="Its ``ActionResult``, as JSON.")
    answers: int = Field(default=0, ge=0, description="How many answers it had taken.")
    answered: str = Field(default="", description="Digest of those answers (``digest``).")
    question: ErrorInfo | None = Field(
        default=None, description="The last question it asked, when it took answers."
    )

    def outcome(self, answers: tuple[Any, ...]) -> ActionResult | None:
        """Its saved result when ``answers`` are the ones it had; None: call it."""
        if len(answers) != self.answers or answers_digest(answers) != self.answered:
            return None
        try:
            return ActionResult.model_validate(self.result)
        except ValidationError:
            return None

    def asked(self) -> ActionResult | None:
        """The question it asked before its answers (``Answering.call(asked=...)``), if any."""
        if not self.answers or self.question is None:
            return None
        return ActionResult(call_id="", state=ActionState.NEEDS_INPUT, error=self.question)


def answers_digest(answers: tuple[Any, ...]) -> str:
    """A digest of the answers a member call took (empty for none)."""
    if not answers:
        return ""
    text = json.dumps(list(answers), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class MemberState(BaseModel):
    """The member call a team stopped on, with the state that member saved when it asked,
    and the member calls that finished before it (``replies``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["weft.team_member"] = Field(default=STATE_KIND, description="What saved it.")
    version: Literal[1] = Field(default=1, description="Format of this state.")
    team: str = Field(description="The team's (or cluster's) name.")
    member: str = Field(description="The member that asked.")
    number: int = Field(ge=1, description="The member call's number in start order (from 1).")
    arguments: str = Field(description="Digest of the member call's arguments (``digest``).")
    given: int = Field(ge=0, description="How many answers the member call had when it asked.")
    question: ErrorInfo = Field(description="What the member asked (its ``needs_input`` error).")
    state: dict[str, Any] | None = Field(
        default=None, description="The state the member saved when it asked, if it saved one."
    )
    replies: list[SavedReply] = Field(
        default_factory=list,
        description="Member calls that finished having asked nothing: replayed, not made again.",
    )

    def matches(self, number: int, member: str, arguments: dict[str, Any]) -> bool:
        """True when the call about to start is the one that saved this state."""
        return (
            self.number == number and self.member == member and self.arguments == digest(arguments)
        )

    def asked(self) -> ActionResult:
        """The member call's ``needs_input`` result, rebuilt, with its saved state."""
        return ActionResult(
            call_id="", state=ActionState.NEEDS_INPUT, error=self.question, resume_state=self.state
        )

    def replayed(self, number: int, member: str, arguments: dict[str, Any]) -> SavedReply | None:
        """The saved reply of the call about to start, if it finished before the stop."""
        for reply in self.replies:
            if reply.number == number:
                if reply.member != member or reply.arguments != digest(arguments):
                    return None  # the replay went another way
                return reply
        return None


def saved_reply(
    number: int,
    member: str,
    arguments: str,
    result: ActionResult,
    answers: tuple[Any, ...] = (),
    question: ErrorInfo | None = None,
) -> SavedReply | None:
    """``result`` (given ``answers``, after ``question``) as a ``SavedReply``; None when it is
    not JSON (the call is made again)."""
    try:
        dumped = result.model_dump(mode="json")
        json.dumps(dumped)
    except (TypeError, ValueError):
        return None
    return SavedReply(
        number=number,
        member=member,
        arguments=arguments,
        result=dumped,
        answers=len(answers),
        answered=answers_digest(answers),
        question=question if answers else None,
    )


def member_state(raw: dict[str, Any] | None, team: str) -> MemberState | None:
    """The state ``raw`` (the team call's ``resume_state``) if it is this team's, else None
    (with a warning when there was one: its member then starts again from its beginning)."""
    if raw is None:
        return None
    why = ""
    if raw.get("kind") != STATE_KIND:
        why = f"it is not a team's state (kind {raw.get('kind')!r})"
    else:
        try:
            saved = MemberState.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            why = f"{'.'.join(str(p) for p in first['loc']) or 'state'}: {first['msg']}"
        else:
            if saved.team == team:
                return saved
            why = f"it was saved by '{saved.team}'"
    log.warning(
        "%s: the saved member state cannot be resumed (%s); the member that asked starts "
        "again from its beginning",
        team,
        why,
    )
    return None


__all__ = ["STATE_KIND", "MemberState", "SavedReply", "digest", "member_state", "saved_reply"]
