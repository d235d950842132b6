"""The tasks side of a team conversation, and the plumbing every move uses.

``ConversationTasks`` holds a conversation's state and does what follows a
member's move without choosing a speaker: it starts assigned tasks (refusing
the ones for no member, ``task_checks``), waits for the sync ones, publishes
their progress and results, holds pauses until the tasks they wait for have
reported (``pause_checks``), sends the team's ``trigger`` and ``conclusion``,
and builds the ``context`` of each member call. ``Conversation``
(``conversation.py``) adds the turns, votes and replacements on top; the
two were one module until it reached the module size limit.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from weft.protocols import ActionResult
from weft.protocols.teams import Assignment, MessageType, TeamMessage, TeamState
from weft.runtime.teams.channel import TeamChannel
from weft.runtime.teams.member import MemberCaller, TeamMember, compact, task_output
from weft.runtime.teams.pause_checks import check_pause, pause_note
from weft.runtime.teams.settings import TeamSettings
from weft.runtime.teams.state_machine import FlowControl
from weft.runtime.teams.task_checks import refusals, task_refusal
from weft.runtime.teams.team_spans import post_moving
from weft.runtime.tracing.spans import new_span_id

#: Characters of a task's output quoted in its result message's text.
RESULT_TEXT_CHARS = 200


class ConversationTasks:
    """A conversation's state, its tasks and pauses, and how it publishes (see the module)."""

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

    @property
    def names(self) -> list[str]:
        return [seat.name for seat in self.seats]

    def seat(self, name: str) -> TeamMember | None:
        return next((s for s in self.seats if s.name == name), None)

    # -- tasks, pauses ---------------------------------------------------------------

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
