"""One team conversation: turns, votes, assignments, pauses, conclusion, on the team topic.

The loop is the IoA flow control in code. Each turn exactly one member is
called (the addressed member, the next voter, or whoever the selector
picks); its ``MemberReply`` becomes one message on the topic, and the state
machine (``FlowControl``) moves before the message is published, so an
illegal move is an error, never a message. What else can happen:

- **propose** opens a vote: every other member votes, one per turn; the
  tally (proposer counts as yes, a tie rejects) either runs the proposal's
  tasks, concludes with its text (no tasks), or returns to discussion. A
  proposal made while the team is still in EXECUTION (the turn after a sync
  assignment's results, or after an accepted proposal's tasks started) first
  ends the execution with a ``trigger`` back to DISCUSSION: votes are held
  from a discussion (``TRANSITIONS``), and the execution is over once its
  sync results are in;
- **assign** starts tasks: ``sync`` ones are awaited before the next turn
  (state EXECUTION), ``async`` ones run on and report later as
  ``task_result`` messages; ``wait_for`` in the same reply pauses at once.
  A task for a name that is no member is refused at once, by the team, with
  a failed ``task_result`` naming it and the members; the valid tasks of the
  assignment go ahead. A proposal whose tasks name no member is not put to
  the vote: the team's ``decision`` refuses it (``task_checks``);
- **pause** stops the turns until every named task that is running has
  reported, then a ``trigger`` message resumes the discussion; ids that will
  never report (no such task, a task of a rejected or refused proposal) are
  named in the pause message at once and not waited for (``pause_checks``);
- a reply's ``to`` names the next speaker on a speak, an assign (after its sync
  results) and a pause (after its trigger); one that names no member or its
  speaker, or is given on a propose, vote or conclude (whose next turn the
  rules fix), still counts but addresses no one: the selector picks, and the
  message says why (``data.to_unknown``, ``to_self`` or ``to_ignored``, and
  ``note``, read in the history; ``addressing``);
  task ids are unique (``task_ids``: a repeated id is renamed, with a note);
- a member whose call fails (error, timeout, an agent lost) is replaced by
  the next member of its pool, who takes the same turn; with an empty pool
  the team concludes with what it has (reason ``member_lost``);
- ``max_turns`` speaker turns without a conclusion end the team too;
- a member that asks a person (``ctx.ask``) stops the conversation where it
  is, with no further turns: the team's call ends ``needs_input`` with the
  question, and resuming it holds the conversation again with the answers
  (``weft.agents.answering``);
- a member's move that the flow rules still refuse (``IllegalTransition``)
  fails the team with an ``ActionFailed`` of type ``IllegalTransition`` that
  names the member, its move and the state, never a bare traceback.

Task results and progress are published by the tasks themselves, whenever
they finish, and reach the log through the bus like every other message.
What follows a move without choosing a speaker (tasks, pauses, triggers,
the conclusion, publishing) is ``ConversationTasks`` (``conversation_tasks.py``).
"""

from __future__ import annotations

import time
from typing import Any

from weft.protocols import ActionFailed, ActionResult
from weft.protocols.teams import (
    IllegalTransition,
    MemberReply,
    MessageType,
    TeamOutcome,
    TeamState,
)
from weft.runtime.teams.addressing import addressee
from weft.runtime.teams.conversation_tasks import ConversationTasks
from weft.runtime.teams.member import TeamMember, reply_of
from weft.runtime.teams.speakers import Selection
from weft.runtime.teams.state_machine import (
    ends_execution_first,
    message_type_for,
)
from weft.runtime.teams.task_checks import proposal_refusal, refusals
from weft.runtime.teams.task_ids import take_ids
from weft.runtime.tracing.spans import new_span_id


class Conversation(ConversationTasks):
    """Runs one conversation to its conclusion; ``run`` returns the ``TeamOutcome``."""

    # -- the loop --------------------------------------------------------------------

    async def run(self) -> TeamOutcome:
        team = self.settings.name
        try:
            if not self.seats:
                self.reason = "no_members"
                await self._post(
                    MessageType.CONCLUSION,
                    team,
                    TeamState.CONCLUSION,
                    text="no members",
                    data={"reason": self.reason},
                )
            else:
                await self._post(
                    MessageType.TEAM_UP,
                    team,
                    TeamState.DISCUSSION,
                    text=self.goal,
                    data={"members": self.names},
                )
            while not self.flow.concluded and self.caller.asked is None:
                await self.channel.drain()
                if self.caller.asked is not None:  # a task asked: the conversation stops
                    break
                if self.turns >= self.settings.max_turns:
                    await self._conclude(team, self._what_it_has(), "max_turns")
                    break
                await self._turn()
        finally:
            await self._stop_tasks()
        return TeamOutcome(
            team=team,
            conversation=self.channel.conversation,
            conclusion=self.conclusion,
            reason=self.reason,
            turns=self.turns,
            messages=len(self.channel.log),
            members=self.names,
            task_results=self.results,
            states=self.flow.history,
        )

    async def _turn(self) -> None:
        state = self.flow.state
        if state is TeamState.VOTE:
            speaker, how, mode = self.voters[len(self.votes)], "vote", "vote"
        elif self.addressed is not None and self.addressed in self.names:
            speaker, how, mode = self.addressed, "addressed", "turn"
        else:
            selection = Selection(
                self.names, self.last_speaker, self._context("moderator", "select")
            )
            speaker, how = await self.settings.selector.choose(selection, self.caller)
            mode = "turn"
        self.addressed = None
        member = self.seat(speaker)
        if member is None:  # only a selector of the user's own can name someone else
            raise ActionFailed(
                f"the speaker selector {type(self.settings.selector).__name__} chose "
                f"{speaker!r}, which is not a member ({', '.join(self.names)})",
                error_type="ValidationError",
            )
        span_id, started = new_span_id(), time.time()
        context = self._context(speaker, mode, turn=self.turns + 1)
        result = await self.caller.call(member, context, parent_id=span_id)
        if self.caller.asked is not None:  # a person must answer first: no more turns
            return
        if not result.ok:
            await self._replace(member, result, {"span_id": span_id, "started": started})
            return
        self.turns += 1
        self.last_speaker = speaker
        await self._take(speaker, reply_of(result.output), how, span_id, started)

    async def _take(
        self, speaker: str, reply: MemberReply, how: str, span_id: str, started: float
    ) -> None:
        """Carry out ``speaker``'s move; a move the flow rules refuse fails the team, named."""
        state = self.flow.state
        try:
            await self._move(speaker, reply, how, span_id, started)
        except IllegalTransition as exc:
            raise ActionFailed(  # the team's call prefixes its own name
                f"member '{speaker}' made the move '{reply.act}' in state {state.value}, "
                f"which the team's flow rules do not allow ({exc})",
                error_type="IllegalTransition",
            ) from exc

    async def _move(
        self, speaker: str, reply: MemberReply, how: str, span_id: str, started: float
    ) -> None:
        # 'to' hands the next turn on (speak, assign, pause); one not followed is said where
        # the member reads it, and the selector picks (``addressing``)
        voting = self.flow.state is TeamState.VOTE
        to, remark = addressee(reply, speaker, self.names, self.settings.name, voting=voting)
        data: dict[str, Any] = {"selected_by": how, **remark}
        turn: dict[str, Any] = {
            "turn": self.turns,
            "text": reply.text,
            "to": to,
            "data": data,
            "span_id": span_id,
            "started": started,
        }
        if self.flow.state is TeamState.VOTE:
            vote = reply.vote if reply.act == "vote" and reply.vote else "abstain"
            await self._post(MessageType.VOTE, speaker, TeamState.VOTE, vote=vote, **turn)
            self.votes[speaker] = vote
            if len(self.votes) >= len(self.voters):
                await self._tally()
            return
        kind = message_type_for(reply)
        if kind is MessageType.PROPOSAL:
            if ends_execution_first(kind, self.flow.state):
                await self._end_execution(speaker)
            tasks, _ = take_ids(reply.tasks, [], self.tasks, data)
            self.proposal = await self._post(kind, speaker, TeamState.VOTE, tasks=tasks, **turn)
            refused = refusals(tasks, self.names, self.settings.name)
            if refused:
                await self._refuse_proposal(refused)
                return
            self.voters, self.votes = [n for n in self.names if n != speaker], {}
            if not self.voters:
                await self._tally()
        elif kind in (MessageType.ASSIGN_SYNC, MessageType.ASSIGN_ASYNC):
            tasks, wait_for = take_ids(reply.tasks, reply.wait_for, self.tasks, data)
            state = TeamState.EXECUTION if kind is MessageType.ASSIGN_SYNC else TeamState.DISCUSSION
            await self._post(kind, speaker, state, tasks=tasks, wait_for=wait_for, **turn)
            await self._assign(speaker, tasks)
            if wait_for:
                await self._pause(speaker, wait_for, None)
            self.addressed = to  # speaks once the sync results (and a pause) are in
        elif kind is MessageType.PAUSE:
            await self._pause(speaker, reply.wait_for, turn)
            self.addressed = to
        elif kind is MessageType.CONCLUSION:
            await self._conclude(speaker, reply.text, "concluded", turn)
        else:
            await self._post(MessageType.SPEAK, speaker, TeamState.DISCUSSION, **turn)
            self.addressed = to

    # -- votes, tasks, pauses ---------------------------------------------------------

    async def _tally(self) -> None:
        assert self.proposal is not None
        proposal, team = self.proposal, self.settings.name
        yes = 1 + sum(v == "yes" for v in self.votes.values())
        no = sum(v == "no" for v in self.votes.values())
        accepted = yes > no
        tally = {"accepted": accepted, "yes": yes, "no": no, "proposal": proposal.id}
        self.proposal, self.voters, self.votes = None, [], {}
        if accepted and proposal.tasks:
            await self._post(
                MessageType.DECISION, team, TeamState.EXECUTION, text=proposal.text, data=tally
            )
            await self._assign(proposal.sender, proposal.tasks)
        elif accepted:
            await self._post(
                MessageType.DECISION, team, TeamState.VOTE, text=proposal.text, data=tally
            )
            await self._conclude(team, proposal.text, "vote")
        else:
            for task in proposal.tasks:
                self.dropped[task.id] = f"its proposal by {proposal.sender} was rejected"
            await self._post(
                MessageType.DECISION, team, TeamState.DISCUSSION, text=proposal.text, data=tally
            )

    async def _refuse_proposal(self, refused: dict[str, str]) -> None:
        """The open proposal names members that do not exist: back to discussion, no vote."""
        assert self.proposal is not None
        proposal, self.proposal = self.proposal, None
        for task in proposal.tasks:
            self.dropped[task.id] = f"its proposal by {proposal.sender} was not put to the vote"
        await self._post(
            MessageType.DECISION,
            self.settings.name,
            TeamState.DISCUSSION,
            text=proposal_refusal(refused, self.names),
            data={
                "accepted": False,
                "yes": 0,
                "no": 0,
                "proposal": proposal.id,
                "refused": refused,
            },
        )

    async def _replace(
        self, member: TeamMember, result: ActionResult, span: dict[str, Any]
    ) -> None:
        """``member`` failed its turn: its successor takes the seat, or the team concludes.

        ``span`` (the failed turn's span id and start) becomes the message's span,
        so the failed call hangs under the message that reports it.
        """
        error = result.error.model_dump(mode="json", exclude={"details"}) if result.error else None
        if result.error is not None and result.error.type == "UnknownAction":
            # a name the run has no action for is a mistake in the team's definition,
            # not a member that died: replacing it would hide the typo
            self.misnamed = f"member '{member.name}': {result.error.message}"
        replacement = None if self.misnamed else member.replaced()
        if replacement is None:
            self.reason = "member_lost"
            await self._conclude(
                self.settings.name,
                self._what_it_has(),
                "member_lost",
                turn=span,
                data={"lost": member.name, "error": error},
            )
            return
        index = self.seats.index(member)
        self.seats[index] = replacement
        self.voters = [replacement.name if v == member.name else v for v in self.voters]
        if self.flow.state is not TeamState.VOTE:
            self.addressed = replacement.name
        await self._post(
            MessageType.MEMBER_REPLACED,
            self.settings.name,
            self.flow.state,
            text=f"{member.name} lost; {replacement.name} takes its seat",
            data={"lost": member.name, "replacement": replacement.name, "error": error},
            **span,
        )
