"""Whether an ``LLMAgent``'s reply is its answer: structured output parsed, output checks run.

A reply that does not fit (``output_type``) or that a check rejects is asked
for again with the reason, within ``max_repairs`` (shared by both), then the
call fails ``InvalidOutput`` or ``OutputRejected``. The rejected value is
never put into an error message (it may hold what a check keeps out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weft.agents.llm_checks import AnswerCheck, CheckError, first_rejection, rejection_prompt
from weft.agents.output_contract import OutputContract
from weft.agents.structured import StructuredOutputError, repair_prompt
from weft.protocols import ActionContext, ActionResult


async def check_answer(
    agent: str,
    content: str,
    output: OutputContract | None,
    checks: Sequence[AnswerCheck],
    ctx: ActionContext,
    budget: tuple[int, int],
    *,
    cut_off: tuple[bool, int | None] = (False, None),
) -> tuple[Any, str | None] | ActionResult:
    """``(value, None)`` for an answer, ``(None, what to tell the model)`` for one to ask
    again, or the failed result (its ``call_id`` left for the caller to set). ``budget``:
    the repairs used so far and the most allowed. ``cut_off``: whether the reply stopped
    at the token limit (``finish_reason`` ``length``), and that limit when weft set one."""
    repairs, max_repairs = budget
    value: Any = content
    if output is not None:
        try:
            value = output.parse(content)
        except StructuredOutputError as exc:
            if repairs >= max_repairs:
                said = f"{exc}; {cut_note(cut_off[1])}" if cut_off[0] else str(exc)
                return ActionResult.failure(
                    "", "InvalidOutput", f"{agent}: {said} (after {repairs} repair attempt(s))"
                )
            return None, repair_prompt(exc)
    if not checks:
        return value, None
    try:
        rejected = await first_rejection(checks, value, ctx)
    except CheckError as exc:
        return ActionResult.failure("", "CheckFailed", f"{agent}: {exc}")
    if rejected is None:
        return value, None
    check, reason = rejected
    if repairs >= max_repairs:
        return ActionResult.failure(
            "",
            "OutputRejected",
            f"{agent}: output check {check} rejected the answer: {reason} "
            f"(after {repairs} repair attempt(s))",
        )
    return None, rejection_prompt(reason)


def cut_off_of(finish_reason: str | None, max_tokens: int | None) -> tuple[bool, int | None]:
    """``check_answer``'s ``cut_off`` for a completion: cut when it ended for ``length``."""
    return finish_reason == "length", max_tokens


def cut_note(max_tokens: int | None) -> str:
    """Why a reply cut at the token limit is no valid JSON, and what gives it room.

    The parse error alone (``Unterminated string``) reads like a model's mistake;
    a small local model run with ``WEFT_MAX_TOKENS`` (as docs/agents.md advises)
    meets this first.
    """
    limit = f"of {max_tokens} completion tokens " if max_tokens is not None else ""
    return (
        f"the reply was cut off at the token limit {limit}(finish_reason 'length'): "
        "give it more with the agent's max_tokens or WEFT_MAX_TOKENS"
    )
