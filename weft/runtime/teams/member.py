"""The member protocol: how a team calls a member, and how it reads the answer.

A member is any action. On its turn it is called with the arguments every
LLM agent takes, ``{"task": str, "context": dict}``:

- ``task`` says in prose what is asked now (your turn, your vote, a task),
  with the reply format, so an ``LLMAgent(output_type=MemberReply)`` needs no
  instructions of its own about the team;
- ``context`` holds the same facts as data, for a Python function: ``mode``
  (``turn`` | ``vote`` | ``task``), ``team``, ``goal``, ``you``, ``state``,
  ``turn``, ``max_turns``, ``members``, ``history`` (the last ``window``
  messages, oldest first; ``note`` is the team's remark on one, e.g. a
  ``to`` that named no member), ``proposal`` (when voting), ``task`` (an
  assignment: ``id``, ``from``, ``task``), ``running`` (async task ids not yet
  reported), ``team_depth`` (how many teams enclose the callee).

It answers a turn with a ``MemberReply`` (a dict with ``act``, ``text``,
``to``, ``vote``, ``tasks``, ``wait_for``; a bare string is ``speak``). A task
is answered with anything: its output is the task's result (a ``MemberReply``
dict gives its ``text``). A member that fails (error, timeout, an agent lost)
is dead for the team: see ``Conversation``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from weft.agents.answering import Answering, Asked, asks
from weft.agents.llm_tool_calls import invoke_resumable
from weft.agents.structured import strip_fences
from weft.protocols import Action, ActionCall, ActionResult, ActionSpec, Usage
from weft.protocols.human_input import Questions
from weft.protocols.streaming import is_text_delta
from weft.protocols.teams import MemberReply, TeamMessage
from weft.runtime.teams.member_resume import (
    MemberState,
    SavedReply,
    digest,
    member_state,
    saved_reply,
)
from weft.runtime.teams.team_spans import TeamSpans

#: Seconds past ``turn_timeout`` before a member call is abandoned: the call's deadline says
#: ``turn_timeout`` first, so a remote agent's own timeout (which says why) comes back first.
TIMEOUT_GRACE = 1.0

REPLY_FORMAT = (
    'Answer with one JSON object: {"act": "speak|propose|vote|assign|pause|conclude", '
    '"text": "...", "to": "member name or null", "vote": "yes|no|abstain or null", '
    '"tasks": [{"id": "t1", "to": "member", "task": "...", "mode": "sync|async"}], '
    '"wait_for": ["task ids"]}. speak: say something; propose: put "text" to a vote (with '
    '"tasks", they run when accepted; without, an accepted proposal is the team\'s answer); '
    "assign: hand out tasks (sync: wait for the results; async: they report later); pause: "
    'wait until the async tasks in "wait_for" report; conclude: "text" is the team\'s final '
    'answer. "to" names the member who speaks next, on speak, assign (after the sync '
    'results) and pause (after the tasks report); propose, vote and conclude take no "to".'
)


@dataclass
class TeamMember:
    """A seat in the team: the action in it, and the pool that replaces it when it dies.

    ``action`` None means the member is called by ``name`` through the
    context's ``invoke`` (a workflow's action, a remote agent named in the
    run's registry); the pool may mix actions and names.
    """

    name: str
    action: Action | None = None
    pool: list[Action | str] = field(default_factory=list)

    @classmethod
    def of(
        cls, item: Action | str | TeamMember, pool: list[Action | str] | None = None
    ) -> TeamMember:
        if isinstance(item, TeamMember):
            return item
        if isinstance(item, str):
            return cls(name=item, pool=list(pool or []))
        return cls(name=item.spec.name, action=item, pool=list(pool or []))

    def replaced(self) -> TeamMember | None:
        """The next member from the pool (which it inherits), or None when the pool is empty."""
        if not self.pool:
            return None
        nxt = TeamMember.of(self.pool[0])
        return TeamMember(name=nxt.name, action=nxt.action, pool=self.pool[1:])


def bundled_of(members: Sequence[TeamMember]) -> list[Action]:
    """The actions the members given as objects bring with them (an ``LLMAgent``'s tool
    objects, a nested team's members' tools), seats and pools alike: a run's action
    table registers them with the team (``ActionTable.register``), so a member's
    tools are found by name when the member calls them."""
    found: list[Action] = []
    for member in members:
        for item in [member.action, *member.pool]:
            if item is not None and not isinstance(item, str):
                found.extend(getattr(item, "bundled_actions", ()))
    return found


def compact(message: TeamMessage) -> dict[str, Any]:
    """A message as a member sees it in ``context.history``: only the fields that are set."""
    out: dict[str, Any] = {"sender": message.sender, "type": message.type.value}
    if message.turn is not None:
        out["turn"] = message.turn
    if message.text:
        out["text"] = message.text
    for key in ("to", "vote", "task_id"):
        value = getattr(message, key)
        if value:
            out[key] = value
    if message.tasks:
        out["tasks"] = [t.model_dump() for t in message.tasks]
    if message.wait_for:
        out["wait_for"] = message.wait_for
    if message.output is not None:
        out["output"] = message.output
    if message.data.get("note"):  # the team's remark on the message (``task_checks``)
        out["note"] = message.data["note"]
    return out


def prompt_for(context: dict[str, Any]) -> str:
    """The ``task`` text of a member call: what is asked, for a reader who sees only prose."""
    mode = context["mode"]
    head = (
        f"You are {context['you']}, a member of team '{context['team']}' "
        f"(members: {', '.join(context['members'])}). Team goal: {context['goal']}"
    )
    history = "\n".join(
        f"- {m['sender']} ({m['type']}): {m.get('text') or _json(m.get('output'))}"
        + (f" [team note: {m['note']}]" if m.get("note") else "")
        for m in context["history"]
    )
    shown = f"\n\nConversation so far:\n{history}" if history else ""
    if mode == "task":
        task = context["task"]
        return (
            f"{head}{shown}\n\n{task['from']} assigned you task {task['id']}: {task['task']}\n"
            "Do it and answer with the result (a structured reply: the result as its text)."
        )
    if mode == "vote":
        proposal = context["proposal"]
        return (
            f"{head}{shown}\n\n{proposal['sender']} proposes: {proposal['text']}\n"
            'Vote: answer {"act": "vote", "vote": "yes" or "no", "text": "why"}.'
        )
    return (
        f"{head}{shown}\n\nState {context['state']}, turn {context['turn']} of at most "
        f"{context['max_turns']}. It is your turn.\n{REPLY_FORMAT}"
    )


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def json_object_in(text: str) -> dict[str, Any] | None:
    """The JSON object that is the whole of ``text`` (in a ```` ``` ```` fence or not), else None.

    An LLM agent without structured output (a YAML ``llm:`` agent, an ``LLMAgent``
    with no ``output_type``) answers in text; told to "answer with one JSON object"
    it writes the object as its reply, often fenced. Read as prose, such a reply
    would be a ``speak`` whose text is JSON, so the team could never conclude.
    Prose that merely contains braces is not an object and stays prose.
    """
    stripped = strip_fences(text)  # the fence chat models put around JSON, as structured output
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


#: The fields each move reads (``Conversation._move``); a value in any other field is ignored.
_USED_BY: dict[str, frozenset[str]] = {
    "speak": frozenset({"text", "to"}),
    "propose": frozenset({"text", "to", "tasks"}),
    "vote": frozenset({"text", "to", "vote"}),
    "assign": frozenset({"text", "to", "tasks", "wait_for"}),
    "pause": frozenset({"text", "to", "wait_for"}),
    "conclude": frozenset({"text", "to"}),
}


def reply_of(output: Any) -> MemberReply:
    """A member's turn output as a ``MemberReply``; text and other shapes become ``speak``.

    Text that is one JSON object with an ``act`` (what an LLM member without
    structured output writes when it follows the reply format) is that move.
    A team's own outcome (a nested team) speaks its conclusion.
    """
    if isinstance(output, str):
        parsed = json_object_in(output)
        if parsed is not None and "act" in parsed:
            output = parsed
    if isinstance(output, MemberReply):
        return output
    if isinstance(output, dict):
        if "act" in output:
            try:
                return MemberReply.model_validate(output)
            except ValidationError as exc:
                used = _USED_BY.get(str(output.get("act")))
                if used is not None:  # a bad field the move does not use is ignored, as
                    try:  # MemberReply says: a model copied the format's "yes|no|abstain"
                        return MemberReply.model_validate(
                            {k: v for k, v in output.items() if k == "act" or k in used}
                        )
                    except ValidationError:
                        pass
                return MemberReply(text=f"(malformed reply: {exc.errors()[0]['msg']}) {output}")
        if "conclusion" in output:
            return MemberReply(text=str(output["conclusion"]))
    if isinstance(output, str):
        return MemberReply(text=output)
    return MemberReply(text=json.dumps(output, default=str))


def task_output(output: Any) -> Any:
    """A task's result from what the assignee returned: a ``MemberReply``'s text, else as is.

    A ``MemberReply`` written as JSON text (an LLM member without structured output)
    counts as one too.
    """
    if isinstance(output, str):
        parsed = json_object_in(output)
        if parsed is not None and "act" in parsed and "text" in parsed:
            return parsed["text"]
    if isinstance(output, dict) and "act" in output and "text" in output:
        return output["text"]
    if isinstance(output, dict) and "conclusion" in output and "conversation" in output:
        return output["conclusion"]
    return output


class MemberContext:
    """The ``ActionContext`` a directly-called member gets: the team's, with its own call.

    Nested calls and progress go through the team's context; spans the member
    records itself (an LLM request) become children of its own call.
    """

    __slots__ = ("_call", "_on_progress", "_outer", "_questions", "_spans")

    def __init__(
        self,
        outer: Any,
        call: ActionCall,
        spans: TeamSpans,
        on_progress: Callable[[str, float | None, dict[str, Any]], None] | None = None,
    ) -> None:
        self._outer = outer
        self._call = call
        self._spans = spans
        self._on_progress = on_progress
        self._questions: Questions | None = None

    @property
    def call(self) -> ActionCall:
        return self._call

    @property
    def outer(self) -> Any:
        """The team's context, which resolves the names this member calls."""
        return self._outer

    @property
    def idempotency_key(self) -> str:
        return self._call.idempotency_key or self._call.call_id

    async def invoke(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        answers: tuple[Any, ...] = (),
        resume_state: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """Call ``action`` through the team's context; ``answers`` (a nested team's member
        that asked), the state it saved and the key of its work (an agent's tool call) are
        passed on only when there are some (``invoke_resumable``: a team's context that
        takes no state or key calls it from its start)."""
        if resume_state is None and idempotency_key is None:
            if answers:
                answered: ActionResult = await self._outer.invoke(
                    action, arguments, answers=answers
                )
                return answered
            result: ActionResult = await self._outer.invoke(action, arguments)
            return result
        return await invoke_resumable(
            self._outer, action, arguments, answers, f"'{action}'", resume_state, idempotency_key
        )

    def actions(self) -> list[ActionSpec]:
        specs: list[ActionSpec] = self._outer.actions()
        return specs

    def ask(self, question: str, *, choices: Sequence[Any] | None = None) -> Any:
        if self._questions is None:
            self._questions = Questions(self.call)
        return self._questions.ask(question, choices)

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        # streamed text goes to the run's listeners only, not as team messages
        if self._on_progress is not None and not is_text_delta(data):
            self._on_progress(message, fraction, data)
        self._outer.progress(message, fraction, **data)

    def record_span(self, span: dict[str, Any]) -> None:
        self._spans.record(
            str(span["name"]),
            kind=str(span.get("kind", "llm")),
            start=float(span["start"]),
            status=str(span.get("status", "ok")),
            attributes=dict(span.get("attributes", {})),
            span_id=span.get("span_id"),
            parent_id=span.get("parent_id") or self._call.call_id,
            agent=span.get("agent"),
        )


class MemberCaller:
    """Calls members for one conversation, counts their usage, bounds each call in time.

    ``timeout`` is the deadline of a member call (a remote member gives up at
    it with its reason); a call still running ``TIMEOUT_GRACE`` later is
    abandoned as a ``Timeout`` failure. Either way the member is dead.

    A member that asks a person is no failure: ``answering`` hands it the
    answers the team's call carries (``weft.agents.answering``), and ``asked`` is the
    question the team stops on when they run out. ``stopped`` is then the team's
    ``needs_input`` result, with the asking member's saved state nested in its
    ``resume_state`` (``member_resume``); a team call resumed with it hands that
    state back to the same member call, so an LLM member goes on where it stopped,
    and gives every member call that had finished, asking nothing, its saved result
    instead of calling the member again (``MemberState.replies``).
    """

    def __init__(
        self,
        ctx: Any,
        team_call: ActionCall,
        spans: TeamSpans,
        timeout: float | None,
        *,
        owner: str = "",
    ) -> None:
        self.ctx = ctx
        self.team_call = team_call
        self.spans = spans
        self.timeout = timeout
        self.owner = owner or team_call.action
        self.usage = Usage()
        self.answering = Answering(team_call.answers)
        self._calls = 0
        #: The member state the team's call was resumed with, until its call starts.
        self._saved = member_state(team_call.resume_state, self.owner)
        #: Each member call by number: the member's name and the digest of its arguments.
        self._started: dict[int, tuple[str, str]] = {}
        #: Results saved by the stopped call, replayed instead of calling (``replayed``).
        self._replay = self._saved
        #: The calls that finished asking nothing, saved in ``stopped``'s state.
        self._replies: list[SavedReply] = []

    @property
    def asked(self) -> Asked | None:
        """The question a member asked that has no answer yet: the team stops on it."""
        return self.answering.asked

    def stopped(self, call_id: str, owner: str) -> ActionResult:
        """The team's ``needs_input`` result for ``asked``, carrying the asking member's
        saved state (``MemberState``) when it saved one."""
        asked = self.asked
        assert asked is not None
        result = asked.result(call_id, owner, self.usage)
        found = self.answering.asked_call
        if found is None:
            return result
        number, given, last = found
        if last.error is None or number not in self._started:
            return result
        member, arguments = self._started[number]
        result.resume_state = MemberState(
            team=self.owner,
            member=member,
            number=number,
            arguments=arguments,
            given=given,
            question=last.error,
            state=last.resume_state,
            replies=sorted(self._replies, key=lambda reply: reply.number),
        ).model_dump(mode="json")
        return result

    async def call(
        self,
        member: TeamMember,
        context: dict[str, Any],
        *,
        parent_id: str,
        prompt: str | None = None,
        on_progress: Callable[[str, float | None, dict[str, Any]], None] | None = None,
    ) -> ActionResult:
        """Call ``member`` with ``{task, context}``; never raises for the member's failure.

        ``task`` is ``prompt`` when given, else the member-protocol prompt (``prompt_for``).
        A member that asks is called again with the answers it has (``Answering``);
        the result is its last call's.
        """
        arguments = {"task": prompt or prompt_for(context), "context": context}
        number = 0
        if member.action is not None:
            self._calls += 1
            number = self._calls  # the calls made again for answers keep its key
        started = self.answering.next_number  # ``answering.call`` starts it before awaiting
        self._started[started] = (member.name, digest(arguments))
        saved = self._saved
        if saved is not None and saved.matches(started, member.name, arguments):
            self._saved = None
        else:
            saved = None
        # A saved state goes with the answers it was saved with: dropped when the call finishes.
        latest: dict[str, Any] = {"state": saved.state if saved is not None else None}
        replay = self._replay.replayed(started, member.name, arguments) if self._replay else None

        async def once(answers: tuple[Any, ...]) -> ActionResult:
            done = replay.outcome(answers) if replay is not None else None
            state = latest["state"] if answers else None
            result = done or await self._once(
                member, arguments, parent_id, on_progress, number, answers, state
            )
            latest["answers"] = answers
            if asks(result):
                latest["question"] = result.error
            latest["state"] = result.resume_state if asks(result) else None
            return result

        asked, given = (saved.asked(), saved.given) if saved is not None else (None, 0)
        if asked is None and replay is not None and replay.asked() is not None:
            asked, given = replay.asked(), replay.answers - 1  # it takes its answers again
        result = await self.answering.call(member.name, once, asked=asked, given=given)
        if not asks(result):  # kept for a later stop: replayed, not made again
            question = latest.get("question") or (asked.error if asked is not None else None)
            kept = saved_reply(
                started,
                member.name,
                self._started[started][1],
                result,
                latest.get("answers", ()),
                question,
            )
            if kept is not None:
                self._replies.append(kept)
        return result

    async def _once(
        self,
        member: TeamMember,
        arguments: dict[str, Any],
        parent_id: str,
        on_progress: Callable[[str, float | None, dict[str, Any]], None] | None,
        number: int,
        answers: tuple[Any, ...],
        state: dict[str, Any] | None = None,
    ) -> ActionResult:
        """One call of ``member`` with ``answers`` (and the ``state`` it saved when it
        asked, if any), abandoned at the backstop."""
        backstop = None if self.timeout is None else self.timeout + TIMEOUT_GRACE
        try:
            async with asyncio.timeout(backstop):
                if member.action is None:
                    return await self._named(member.name, arguments, answers, state)
                return await self._direct(
                    member.action, arguments, parent_id, on_progress, number, answers, state
                )
        except TimeoutError:
            return ActionResult.failure(
                "", "Timeout", f"member '{member.name}' did not answer in {self.timeout:g}s"
            )

    async def _named(
        self,
        name: str,
        arguments: dict[str, Any],
        answers: tuple[Any, ...],
        state: dict[str, Any] | None,
    ) -> ActionResult:
        """Call the action named ``name`` through the team's context, with ``answers``
        and ``state`` (``invoke_resumable``: a context that cannot pass answers on fails
        the call; one that cannot pass the state calls it from its start)."""
        return await invoke_resumable(self.ctx, name, arguments, answers, f"member '{name}'", state)

    async def _direct(
        self,
        action: Action,
        arguments: dict[str, Any],
        parent_id: str,
        on_progress: Callable[[str, float | None, dict[str, Any]], None] | None,
        number: int,
        answers: tuple[Any, ...],
        state: dict[str, Any] | None,
    ) -> ActionResult:
        outer = self.team_call
        base = outer.idempotency_key or outer.call_id
        call = ActionCall(
            action=action.spec.name,
            arguments=arguments,
            run_id=outer.run_id,
            trace_id=self.spans.trace_id,
            parent_id=parent_id,
            node=outer.node,
            deadline=outer.deadline,
            idempotency_key=f"{base}>{action.spec.name}#{number}",
            answers=answers,
            resume_state=state,
        )
        started = time.time()
        if self.timeout is not None:
            own = started + self.timeout
            call.deadline = own if call.deadline is None else min(call.deadline, own)
        try:
            result = await action.invoke(
                call, MemberContext(self.ctx, call, self.spans, on_progress)
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = ActionResult.from_exception(call.call_id, exc, source=action.spec.name)
        self.usage = self.usage.add(result.usage)
        self.spans.call(call, result, started)
        return result
