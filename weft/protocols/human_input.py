"""Stopping a call for a person's answer, and giving the answer back on resume.

An action that needs a decision only a person can make (approve a refund,
pick one of three drafts, supply a missing account number) asks for it with
``ctx.ask(question)``. The first time, the call ends ``needs_input`` with the
question; the run ends ``needs_input`` and is journaled like any stopped run.
``weft resume RUN --answer NODE=VALUE`` (``resume_run(..., answers=...)``)
records the answer and calls the node again from its start, this time with
the answer in ``ActionCall.answers``: the same ``ask`` returns it instead of
stopping. A node that asks several questions gets them answered one resume
at a time, in the order it asks them, as LangGraph's ``interrupt`` does.

The answers travel in the call itself, so an action served by an agent
process on another machine asks and is answered exactly as a local one.
Nothing here does I/O: the engine keeps the answers in its journal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from weft.protocols.actions import NEEDS_INPUT_TYPE, ActionCall, ErrorInfo
from weft.protocols.errors import ActionFailed, NeedsInput

#: ``error.type`` of a call given an answer that is not among its question's choices.
INVALID_ANSWER_TYPE = "InvalidAnswer"


class Questions:
    """The questions one call asks, in order, each answered from ``ActionCall.answers``.

    A context makes one when its action first asks (``ActionContext.ask``);
    contexts are made anew for every attempt, so a resumed node that runs
    again from its start asks its questions again in the same order and gets
    the answers given so far. The count lives here, not on the call: an
    ``ActionCall`` is built for every node call, and stays as cheap as it was.
    """

    __slots__ = ("_asked", "_call")

    def __init__(self, call: ActionCall) -> None:
        self._call = call
        self._asked = 0

    def ask(self, question: str, choices: Sequence[Any] | None = None) -> Any:
        """The answer to the call's next question, or ``NeedsInput`` when it has none yet.

        An answer not among ``choices`` fails the call (``ActionFailed``, error type
        ``InvalidAnswer``, not retryable): ``weft resume`` refuses such an answer
        before anything runs, but a call re-sent to an agent by another client may
        carry anything, and the action must never see an answer it did not offer.
        """
        if not isinstance(question, str) or not question.strip():
            raise ValueError("ask() needs a question: a non-empty string")
        index = self._asked
        self._asked += 1
        if index < len(self._call.answers):
            answer = self._call.answers[index]
            why = check_answer(answer, choices)
            if why is not None:  # a resume checks first; a call from any client may not
                raise ActionFailed(
                    f"the answer to {question!r} cannot be taken: {why}",
                    error_type=INVALID_ANSWER_TYPE,
                )
            return answer
        raise NeedsInput(question, choices=choices, index=index)


def question_of(error: ErrorInfo | None) -> dict[str, Any] | None:
    """The question a ``needs_input`` result asked (``question``, ``choices``, ``index``),
    or None when ``error`` is no such question (an A2A agent's free text, say)."""
    if error is None or error.type != NEEDS_INPUT_TYPE:
        return None
    question = error.details.get("question")
    if not isinstance(question, str):
        return None
    choices = error.details.get("choices")
    index = error.details.get("index", 0)
    return {
        "question": question,
        "choices": choices if isinstance(choices, list) else None,
        "index": index if isinstance(index, int) else 0,
    }


def check_answer(answer: Any, choices: Sequence[Any] | None) -> str | None:
    """Why ``answer`` cannot answer a question with ``choices`` (None: it can)."""
    if choices is None or answer in choices:
        return None
    # as the person types them: text quoted, anything else as JSON (true, not True)
    listed = ", ".join(
        repr(choice) if isinstance(choice, str) else json.dumps(choice) for choice in choices
    )
    return f"{answer!r} is not one of the choices: {listed}"
