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
) -> tuple[Any, str | None] | ActionResult:
    """``(value, None)`` for an answer, ``(None, what to tell the model)`` for one to ask
    again, or the failed result (its ``call_id`` left for the caller to set). ``budget``:
    the repairs used so far and the most allowed."""
    repairs, max_repairs = budget
    value: Any = content
    if output is not None:
        try:
            value = output.parse(content)
        except StructuredOutputError as exc:
            if repairs >= max_repairs:
                return ActionResult.failure(
                    "", "InvalidOutput", f"{agent}: {exc} (after {repairs} repair attempt(s))"
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
