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
- a reply whose ``to`` names no member, or its speaker, still counts, but
  addresses no one: the selector picks the next speaker, and the message says
  why (``data.to_unknown`` or ``to_self``, and ``note``, read in the history);
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
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from weft.protocols import ActionFailed, ActionResult
from weft.protocols.teams import (
    Assignment,
    IllegalTransition,
    MemberReply,
    MessageType,
    TeamMessage,
    TeamOutcome,
    TeamState,
)
from weft.runtime.teams.channel import TeamChannel
from weft.runtime.teams.member import MemberCaller, TeamMember, compact, reply_of, task_output
from weft.runtime.teams.pause_checks import check_pause, pause_note
from weft.runtime.teams.settings import TeamSettings
from weft.runtime.teams.speakers import Selection
from weft.runtime.teams.state_machine import (
    FlowControl,
    ends_execution_first,
    message_type_for,
)
from weft.runtime.teams.task_checks import proposal_refusal, refusals, task_refusal, to_remark
from weft.runtime.teams.task_ids import take_ids
from weft.runtime.teams.team_spans import post_moving
from weft.runtime.tracing.spans import new_span_id

#: Characters of a task's output quoted in its result message's text.
RESULT_TEXT_CHARS = 200


class Conversation:
    """Runs one conversation to its conclusion; ``run`` returns the ``TeamOutcome``."""

    def __init__(
        self,
        settings: TeamSettings,
        seats: list[TeamMember],
        goal: str,
        *,
        depth: int,
        channel: TeamChannel,
        caller: MemberCaller,
    ) -> None:
        self.settings = settings
        self.seats = seats
        self.goal = goal
        self.depth = depth
        self.channel = channel
        self.caller = caller
        self.spans = caller.spans
        self.flow = FlowControl()
        self.turns = 0
        self.last_speaker: str | None = None
        self.addressed: str | None = None
        self.proposal: TeamMessage | None = None
        self.voters: list[str] = []
        self.votes: dict[str, str] = {}
        self.tasks: dict[str, Assignment] = {}
        self.results: dict[str, Any] = {}
        self.reported: set[str] = set()
        self.running: dict[str, asyncio.Task[None]] = {}
        #: Tasks of a proposal that was rejected or refused: they never start, and why.
        self.dropped: dict[str, str] = {}
        #: The sync tasks of the latest assignment: what an execution waited for.
        self.awaited: list[str] = []
        self.conclusion = ""
        self.reason = "concluded"
        #: Set when a member's name is no action of the run: the team fails, naming it.
        self.misnamed: str | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._reports: dict[str, list[asyncio.Task[Any]]] = {}
        channel.listen(self._observe)

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

    @property
    def names(self) -> list[str]:
        return [seat.name for seat in self.seats]

    def seat(self, name: str) -> TeamMember | None:
        return next((s for s in self.seats if s.name == name), None)

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
        to = reply.to if reply.to in self.names and reply.to != speaker else None
        data: dict[str, Any] = {"selected_by": how}
        # a 'to' not followed is said where the member reads it; the selector picks
        data.update(to_remark(reply.to, speaker, self.names, self.settings.name))
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
        elif kind is MessageType.PAUSE:
            await self._pause(speaker, reply.wait_for, turn)
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

    async def _refuse(self, refused: dict[str, str], tasks: list[Assignment]) -> None:
        """Refuse the tasks in ``refused`` (they name no member) before any task starts.

        Each gets a failed ``task_result`` from the team, so a pause that waits for
        it ends and the assigner reads why on its next turn; they are taken into
        the log before this returns.
        """
        for task in tasks:
            if task.id not in refused:
                continue
            text = task_refusal(task.id, refused[task.id], self.names)
            error = {"type": "UnknownMember", "message": text, "retryable": False}
            await self._send(
                MessageType.TASK_RESULT,
                self.settings.name,
                task_id=task.id,
                text=text,
                data={"ok": False, "refused": True, "to": task.to, "error": error},
            )
        ids = set(refused)
        if not ids <= self.reported:
            await self.channel.until(lambda _: ids <= self.reported)

    async def _assign(self, assigner: str, tasks: list[Assignment]) -> None:
        """Start every task for a member (refuse the others at once, ``_refuse``);
        wait for the sync ones to report (their messages taken in)."""
        refused = refusals(tasks, self.names, self.settings.name)
        if refused:
            await self._refuse(refused, tasks)
            tasks = [t for t in tasks if t.id not in refused]
        waits: list[asyncio.Task[None]] = []
        self.awaited = [t.id for t in tasks if t.mode == "sync"]
        for task in tasks:
            job = asyncio.create_task(self._run_task(assigner, task), name=f"team task {task.id}")
            if task.mode == "sync":
                waits.append(job)
            else:
                self.running[task.id] = job
        if waits:
            await asyncio.gather(*waits)
            sync_ids = {t.id for t in tasks if t.mode == "sync"}
            if not sync_ids <= self.reported:
                await self.channel.until(lambda _: sync_ids <= self.reported)

    async def _run_task(self, assigner: str, task: Assignment) -> None:
        seat = self.seat(task.to)
        span_id, started = new_span_id(), time.time()
        if seat is None:
            result = ActionResult.failure("", "UnknownMember", f"no member named '{task.to}'")
        else:
            context = self._context(
                task.to, "task", task={"id": task.id, "from": assigner, "task": task.task}
            )
            result = await self.caller.call(
                seat,
                context,
                parent_id=span_id,
                on_progress=lambda text, fraction, data: self._progress(task, text, fraction),
            )
        reports = self._reports.pop(task.id, [])
        if reports:  # its progress goes out before its result
            await asyncio.gather(*reports, return_exceptions=True)
        output = task_output(result.output) if result.ok else None
        shown = str(output) if result.ok else (result.error.message if result.error else "failed")
        data: dict[str, Any] = {"ok": result.ok}
        if result.error is not None:
            data["error"] = result.error.model_dump(mode="json", exclude={"details"})
        await self._send(
            MessageType.TASK_RESULT,
            task.to,
            task_id=task.id,
            output=output,
            text=shown[:RESULT_TEXT_CHARS],
            data=data,
            span_id=span_id,
            started=started,
        )

    def _progress(self, task: Assignment, text: str, fraction: float | None) -> None:
        job = asyncio.create_task(
            self._send(
                MessageType.PROGRESS,
                task.to,
                task_id=task.id,
                text=text,
                data={"fraction": fraction},
            )
        )
        self._background.add(job)
        job.add_done_callback(self._background.discard)
        self._reports.setdefault(task.id, []).append(job)

    async def _pause(self, speaker: str, wait_for: list[str], turn: dict[str, Any] | None) -> None:
        """Wait for the tasks of ``wait_for`` that will report (``pause_checks``), then resume.

        Ids that will never report (no such task, a task never started) are
        named in the pause message at once and not waited for.
        """
        check = check_pause(wait_for, self.tasks, {*self.reported, *self.running}, self.dropped)
        known = check.waits
        extra = dict(turn or {})
        data = {
            **extra.get("data", {}),
            "unknown": check.unknown,
            "never_started": check.never_started,
        }
        if check.skipped:
            data["note"] = "; ".join(n for n in (data.get("note"), pause_note(check)) if n)
        extra["data"] = data
        await self._post(
            MessageType.PAUSE, speaker, TeamState.EXECUTION, wait_for=known, **{"text": "", **extra}
        )
        waiting = set(known)
        if not waiting <= self.reported:
            try:
                await self.channel.until(
                    lambda _: waiting <= self.reported, timeout=self.settings.pause_timeout
                )
            except TimeoutError:
                await self._conclude(self.settings.name, self._what_it_has(), "pause_timeout")
                return
        await self._trigger(known, f"{', '.join(known) or 'nothing'} reported")

    async def _end_execution(self, proposer: str) -> None:
        """Back from EXECUTION to DISCUSSION before ``proposer``'s proposal is voted on.

        A turn is only taken once the execution's sync tasks have reported, so
        the execution is over; the ``trigger`` says so on the topic (with the
        results it waited for), as the end of a pause does.
        """
        done = [i for i in self.awaited if i in self.reported]
        what = f"{', '.join(done)} reported" if done else "the execution is over"
        await self._trigger(done, what, f" for {proposer}'s proposal", reason="proposal")

    async def _trigger(self, ids: list[str], what: str, why: str = "", **data: Any) -> None:
        """The team's ``trigger``: the tasks ``ids`` reported, back to DISCUSSION."""
        await self._post(
            MessageType.TRIGGER,
            self.settings.name,
            TeamState.DISCUSSION,
            wait_for=ids,
            text=f"{what}; the conversation resumes{why}",
            data={"results": {i: self.results.get(i) for i in ids}, **data},
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

    async def _conclude(
        self,
        sender: str,
        text: str,
        reason: str,
        turn: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.conclusion, self.reason = text, reason
        extra = dict(turn or {})
        extra["text"] = text
        extra["data"] = {**extra.get("data", {}), **(data or {}), "reason": reason}
        await self._post(MessageType.CONCLUSION, sender, TeamState.CONCLUSION, **extra)

    def _what_it_has(self) -> str:
        """The team's answer when it must stop early: the last thing a member said."""
        for message in reversed(self.channel.log):
            if message.sender in self.names and message.text and message.turn is not None:
                return message.text
        return ""

    async def _stop_tasks(self) -> None:
        pending = [t for t in (*self.running.values(), *self._background) if not t.done()]
        for job in pending:
            job.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- messages ------------------------------------------------------------------------

    def _observe(self, message: TeamMessage) -> None:
        if message.type is MessageType.TASK_RESULT and message.task_id is not None:
            self.reported.add(message.task_id)
            if message.data.get("ok", True):
                self.results[message.task_id] = message.output

    async def _post(
        self, kind: MessageType, sender: str, state: TeamState, **fields: Any
    ) -> TeamMessage:
        """Move the state machine to ``state`` and publish; returns once it came back."""
        return await post_moving(self.channel, self.flow, self.spans, kind, sender, state, **fields)

    async def _send(
        self,
        kind: MessageType,
        sender: str,
        *,
        span_id: str | None = None,
        started: float | None = None,
        **fields: Any,
    ) -> None:
        """Publish without moving the state (a task's report), without waiting for the echo."""
        started = started or time.time()

        def build() -> TeamMessage:
            return TeamMessage(
                team=self.channel.conversation,
                type=kind,
                sender=sender,
                state=self.flow.state,
                **fields,
            )

        message = await self.channel.send(build)
        self.spans.message(message, message.state, started, span_id)

    def _context(
        self, you: str, mode: str, turn: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The ``context`` argument of a member call (the member protocol, ``member.py``)."""
        return {
            "mode": mode,
            "team": self.settings.name,
            "conversation": self.channel.conversation,
            "goal": self.goal,
            "you": you,
            "state": self.flow.state.value,
            "turn": turn if turn is not None else self.turns,
            "max_turns": self.settings.max_turns,
            "members": self.names,
            "history": [compact(m) for m in self.channel.log[-self.settings.window :]],
            "proposal": compact(self.proposal) if self.proposal is not None else None,
            "running": [i for i in self.running if i not in self.reported],
            "team_depth": self.depth + 1,
            **extra,
        }
