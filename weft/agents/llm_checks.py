"""Input and output checks of an ``LLMAgent``: what the OpenAI Agents SDK calls guardrails.

A check is a function the agent calls with a value and that answers
``None`` (the value is fine) or a sentence saying what is wrong with it
(``"the answer holds a card number"``); ``False`` rejects without a reason,
``True`` passes. Kinds:

- **input checks** (``LLMAgent(input_checks=[...])``) get the call's
  arguments (``{"task": ..., "context": ...}`` for a default agent) before
  the first model request; a rejection ends the call ``InputRejected``
  at once, no model request made (the SDK runs its input guardrails beside
  the first request and cancels it: here nothing is spent on a rejected
  input);
- **output checks** (``output_checks=[...]``) get the final answer, as the
  call would return it (the text, or with ``output_type`` the validated JSON
  value), before it is returned; a rejection is told to the model and the
  answer asked for again, within the agent's ``max_repairs`` (shared with
  structured-output repairs), and when those are spent the call ends
  ``OutputRejected``. ``max_repairs=0`` fails at once, as an SDK tripwire
  does.

Checks run in order and the first rejection counts. A plain ``def`` check
runs in a worker thread, like a ``def`` tool; an ``async def`` one on the
loop, and may take a second parameter, the call's ``ActionContext``, to call
other actions (an LLM classifier) through ``ctx.invoke``, whose usage adds up
into the run's. A check that raises is a bug, not a rejection: the call
ends ``CheckFailed`` naming the check and the exception. The rejected value
is never put into the error message (it may hold what the check is there to
keep out).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from weft.agents.worker_threads import run_in_thread, shared_pool
from weft.protocols import ActionContext, WeftError

__all__ = ["Check", "CheckError", "answer_checks", "first_rejection", "rejection_prompt"]

#: What ``input_checks`` and ``output_checks`` hold: ``fn(value)`` or, async, ``fn(value, ctx)``.
Check = Callable[..., "bool | str | Awaitable[bool | str | None] | None"]


class CheckError(WeftError):
    """A check that raised (a bug in it), or answered something that is no verdict."""


@dataclass(frozen=True)
class AnswerCheck:
    """One check, with how to call it."""

    fn: Callable[..., Any]
    name: str
    is_async: bool
    wants_context: bool


def _positional(fn: Callable[..., Any]) -> int | None:
    """How many positional parameters ``fn`` takes (``None``: any number, ``*args``)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: take it as fn(value)
        return 1
    count = 0
    for p in parameters:
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def answer_checks(checks: Sequence[Check], option: str) -> list[AnswerCheck]:
    """The checks of ``option`` (``input_checks``/``output_checks``), checked when the
    agent is made: ``TypeError`` naming the entry for anything that cannot be called as
    a check."""
    if isinstance(checks, str) or callable(checks):
        raise TypeError(f"{option}: give a list of functions, not {checks!r}")
    made: list[AnswerCheck] = []
    for i, fn in enumerate(checks):
        name = getattr(fn, "__name__", None) or type(fn).__name__
        where = f"{option}[{i}] {name}"
        if not callable(fn) or isinstance(fn, type):
            raise TypeError(f"{option}[{i}]: {fn!r} is not a function")
        # an object whose __call__ is async counts as async too
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 (not a callable() test)
        )
        count = _positional(fn)
        if count == 0:
            raise TypeError(f"{where}: a check takes the value to check as its first parameter")
        wants_context = count is not None and count >= 2
        if wants_context and not is_async:
            raise TypeError(
                f"{where}: a plain def check takes one parameter, the value to check; "
                "write it async def to take the call's ActionContext as a second one"
            )
        made.append(AnswerCheck(fn, name, is_async, wants_context))
    return made


async def _verdict(check: AnswerCheck, value: Any, ctx: ActionContext) -> str | None:
    """``None`` when ``check`` passes ``value``, else the reason it gives."""
    try:
        if check.is_async:
            args = (value, ctx) if check.wants_context else (value,)
            answer = await check.fn(*args)
        else:
            answer = await run_in_thread(shared_pool(), functools.partial(check.fn, value), {})
    except Exception as exc:
        raise CheckError(f"check {check.name} raised {type(exc).__name__}: {exc}") from exc
    if answer is None or answer is True:
        return None
    if answer is False:
        return "rejected (no reason given)"
    if isinstance(answer, str):
        return answer.strip() or "rejected (no reason given)"
    raise CheckError(
        f"check {check.name} answered {type(answer).__name__}; a check answers None "
        "(or True) to pass, or a str saying what is wrong (or False) to reject"
    )


async def first_rejection(
    checks: Sequence[AnswerCheck], value: Any, ctx: ActionContext
) -> tuple[str, str] | None:
    """``(check name, reason)`` of the first check that rejects ``value``, or ``None``.

    Raises ``CheckError`` for a check that raised or answered no verdict."""
    for check in checks:
        reason = await _verdict(check, value, ctx)
        if reason is not None:
            return check.name, reason
    return None


def rejection_prompt(reason: str) -> str:
    """What to tell a model whose answer an output check rejected."""
    return (
        f"Your previous answer was rejected: {reason}. "
        "Answer again, in the same form, without that problem."
    )
