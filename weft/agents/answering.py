"""A person's answers to the questions of calls made inside one call (a team's, an agent's).

A team's member, or a tool an ``LLMAgent`` calls, may ask a person
(``ctx.ask``, ``NeedsInput``, a remote agent that asks). That stops the call
that made it: the team's (or agent's) call ends ``needs_input`` with the
question, and ``weft resume --answer NODE=VALUE`` calls it again from its
start with the answers in its ``ActionCall.answers``. They are the answers
to every question asked inside it, in the order they were asked, whoever
asked them; the conversation (or the agent's loop) runs again, and each
inner call that asks gets the next ones.

An inner call is first made without answers: one that asks nothing (most
turns) runs once, as it always does. One that asks gets, one more at a time,
the answers not yet taken, and is called again from its start each time (as
a resumed node is), until it stops asking or the answers run out. So the
caller learns how many answers a call took without seeing its asks, which
happen wherever the callee runs: in a worker thread, in an agent process on
another machine, in a nested team.

Calls that run at the same time (a team's tasks, an agent's parallel tool
calls) take answers in the order they started, not the order they happen
to ask in, so a resumed run hands each answer to the call that asked its
question: a call that asks waits until every call started before it has
finished or taken its answers.

An ``LLMAgent`` resumed from the state it saved (``ActionCall.resume_state``)
does not run its finished tool calls again: its ``Answering`` starts at the
answers the conversation had taken before them (``taken``), and each saved
call that asked is called straight with its answers (``call(asked=...)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from weft.protocols import ActionResult, ActionState
from weft.protocols.actions import NEEDS_INPUT_TYPE, ErrorInfo
from weft.protocols.human_input import question_of


@dataclass(frozen=True, slots=True)
class Asked:
    """The question a team stops on: ``member`` asked it, the team's ``index``-th question."""

    member: str
    question: str
    choices: list[Any] | None
    index: int

    def result(
        self, call_id: str, owner: str, usage: Any, *, role: str = "member", of: str = "team"
    ) -> ActionResult:
        """The outer call's ``needs_input`` result, carrying this question for ``weft resume``.

        The message says whose call stopped and who asked (``team 'launch': member
        'alice' asks: ...``; for an agent's tool, ``of=""`` and ``role="tool"``:
        ``support: tool 'refund' asks: ...``). ``question`` names the asker, so a
        person answering sees who asks; ``details.member`` and
        ``details.member_question`` keep both apart.
        """
        prefix = f"{of} '{owner}'" if of else owner
        error = ErrorInfo(
            type=NEEDS_INPUT_TYPE,
            message=f"{prefix}: {role} '{self.member}' asks: {self.question}",
            details={
                "question": f"{self.member} asks: {self.question}",
                "choices": self.choices,
                "index": self.index,
                "member": self.member,
                "member_question": self.question,
            },
        )
        return ActionResult(
            call_id=call_id, state=ActionState.NEEDS_INPUT, error=error, usage=usage
        )


async def invoke_answered(
    ctx: Any, name: str, arguments: dict[str, Any], answers: tuple[Any, ...], asker: str
) -> ActionResult:
    """Call the action ``name`` through ``ctx`` with ``answers`` (none: a plain call).

    A context that cannot pass answers on (its ``invoke`` takes no ``answers``)
    fails the call: the question could never be answered. ``asker`` says who
    asked, for that error (``member 'alice'``, ``tool 'refund'``).
    """
    if not answers:
        result: ActionResult = await ctx.invoke(name, arguments)
        return result
    try:
        pending = ctx.invoke(name, arguments, answers=answers)
    except TypeError:
        return ActionResult.failure(
            "",
            "UnansweredQuestion",
            f"{asker} asks a person, but the context it is called through "
            f"({type(ctx).__name__}) cannot pass answers to an action called by name",
        )
    result = await pending
    return result


def asks(result: ActionResult) -> bool:
    """True when ``result`` stopped for a question a person can answer."""
    return result.state is ActionState.NEEDS_INPUT and question_of(result.error) is not None


class Answering:
    """One team call's answers, taken by its member calls in the order the calls started.

    ``taken`` answers are already spoken for (a resumed agent's finished calls took them).
    """

    def __init__(self, answers: Sequence[Any], *, taken: int = 0) -> None:
        self.answers = tuple(answers)
        #: How many answers member calls have taken so far.
        self.taken = taken
        #: The question the team stops on (the first one without an answer), once asked.
        self.asked: Asked | None = None
        #: How many answers had been taken when the call that asked ``asked`` took its first.
        self.asked_from: int | None = None
        #: The call that asked ``asked``: its number (``start``), how many answers it was
        #: given, and its last result (with the state it saved, ``resume_state``).
        self.asked_call: tuple[int, int, ActionResult] | None = None
        self._started = 0
        self._open: dict[int, asyncio.Event] = {}

    @property
    def next_number(self) -> int:
        """The number ``start`` gives the next call (a team matches a saved call by it)."""
        return self._started + 1

    def start(self) -> int:
        """Number a member call as it starts; ``settle`` it when it is done."""
        self._started += 1
        self._open[self._started] = asyncio.Event()
        return self._started

    def settle(self, number: int) -> None:
        """Call ``number`` is done: calls started after it may take answers now."""
        done = self._open.pop(number, None)
        if done is not None:
            done.set()

    async def call(
        self,
        asker: str,
        once: Callable[[tuple[Any, ...]], Awaitable[ActionResult]],
        *,
        asked: ActionResult | None = None,
        given: int = 0,
    ) -> ActionResult:
        """One inner call by ``asker``: ``once(())``, then, while it asks, again with the
        answers it may take (``answer``), numbered as it starts (``start``, ``settle``).

        ``asked`` is the result of a call known to ask (it did, ``given`` answers in,
        before a resume): it is not made again without its answers, but straight
        with ``given`` plus one (or stops on ``asked`` if there are none yet).
        """
        turn = self.start()
        try:
            result = asked if asked is not None else await once(())
            if asks(result):
                result = await self.answer(turn, asker, result, once, given=given)
        finally:
            self.settle(turn)
        return result

    async def answer(
        self,
        number: int,
        member: str,
        result: ActionResult,
        again: Callable[[tuple[Any, ...]], Awaitable[ActionResult]],
        *,
        given: int = 0,
    ) -> ActionResult:
        """The result of call ``number`` of ``member``, which asked (``result``), once answered.

        ``again(answers)`` makes the call anew with ``answers``. A result that
        still asks once the answers run out is the team's question (``asked``),
        unless an earlier call asked first: the team stops on that one. ``given``:
        how many answers ``result`` was already given (a resumed call, see ``call``).
        """
        for earlier in [event for n, event in self._open.items() if n < number]:
            await earlier.wait()
        if self.asked is not None:
            return result
        start = self.taken
        while asks(result) and start + given < len(self.answers):
            given += 1
            result = await again(self.answers[start : start + given])
        self.taken = start + given
        question = question_of(result.error) if asks(result) else None
        if question is not None:
            self.asked_from = start
            self.asked_call = (number, given, result)
            self.asked = Asked(
                member=member,
                question=question["question"],
                choices=question["choices"],
                index=start + question["index"],
            )
        return result
