"""Choosing the ask's plan, within its time budget.

``PlanChoice`` takes the remembered plan when it still passes the check,
else the planner's, else the fallback planner's (the rule planner), and
notes and traces which.

``OrchestratorBudget.max_time`` bounds the whole ask, not only its run: a
planner's model that hangs (a server that accepts the connection and never
answers) would otherwise hold ``weft ask --max-time 5`` for as long as the
model's own timeout and retries allow, minutes with the defaults. Planning
that outlasts the budget ends as a ``PlanningError`` whose last failure is of
kind ``budget`` (nothing ran); the run then gets what planning left of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from weft.protocols import Usage
from weft.runtime.orchestrator.answer import PlanningError
from weft.runtime.orchestrator.experience import Recall
from weft.runtime.orchestrator.plan import Plan, PlanFailure
from weft.runtime.orchestrator.planners import Planner, PlanRequest, checked_plan
from weft.runtime.orchestrator.reuse import trace_reuse
from weft.runtime.orchestrator.routing import RouteChoice
from weft.runtime.orchestrator.run_support import trace_note
from weft.runtime.tracing.spans import Tracer

T = TypeVar("T")


async def within_time(limit: float | None, planning: Awaitable[T]) -> T:
    """``await planning``, stopped with a ``budget`` ``PlanningError`` after ``limit`` s."""
    if limit is None:
        return await planning
    try:
        async with asyncio.timeout(limit):
            return await planning
    except TimeoutError:
        failure = PlanFailure(
            attempt=1,
            kind="budget",
            message=f"time budget exceeded: {limit:g}s while planning (the planner had "
            "not given an acceptable plan; nothing ran)",
        )
        raise PlanningError([failure]) from None


class PlanChoice:
    """One ask's choice of plan: its planners, where it traces, and the notes it adds."""

    def __init__(
        self,
        planner: Planner,
        fallback: Planner | None,
        tracer: Tracer | None,
        run_id: str,
        notes: list[str],
    ) -> None:
        self.planner = planner
        self.fallback = fallback
        self.tracer = tracer
        self.run_id = run_id
        self.notes = notes

    async def choose(
        self,
        recall: Recall | None,
        check: Any,
        request: PlanRequest,
        accepted: dict[str, list[RouteChoice]],
        plan_span: str,
    ) -> tuple[Plan | None, list[PlanFailure], Usage, Recall | None]:
        """``(plan or None, rejected answers, planning usage, the recall reused)``."""
        plan, failures, planner_usage = await self._recalled(recall, check, plan_span)
        if plan is not None and recall is not None:
            request.say(f"reusing the plan of memory record {recall.record} ({recall.why})")
        if plan is None:
            recall = None
            plan, failures, planner_usage = await checked_plan(self.planner, request, accepted)
        model_failed = bool(failures) and failures[-1].kind == "model_error"
        if plan is None and self.fallback is not None and not model_failed:
            primary = failures[-1] if failures else None
            request.say(
                f"no acceptable plan from {type(self.planner).__name__} after "
                f"{len(failures)} answer(s); planning with {type(self.fallback).__name__}"
            )
            plan, more, spent = await checked_plan(self.fallback, request, accepted)
            failures += more
            planner_usage = planner_usage.add(spent)
            if plan is not None:
                why = f" (last: {primary.kind}: {primary.message[:300]})" if primary else ""
                self.notes.append(
                    f"{type(self.planner).__name__} gave no acceptable plan after "
                    f"{len(failures) - len(more)} answer(s){why}; planned with "
                    f"{type(self.fallback).__name__} instead"
                )
                trace_note(self.tracer, self.run_id, self.notes[-1], parent_id=plan_span)
        return plan, failures, planner_usage, recall

    async def _recalled(
        self, recall: Recall | None, check: Any, plan_span: str
    ) -> tuple[Plan | None, list[PlanFailure], Usage]:
        """The remembered plan when it passes the check (no planner call), else None;
        its ``memory`` span goes under ``plan_span``."""
        if recall is None:
            return None, [], Usage()
        problems = await check(recall.plan)
        trace_reuse(self.tracer, self.run_id, recall, problems, parent_id=plan_span)
        if problems:
            self.notes.append(f"memory record {recall.record} not reused: {'; '.join(problems)}")
            return None, [], Usage()
        self.notes.append(
            f"reused the plan of memory record {recall.record} ({recall.why}); saved "
            f"{recall.saved.llm_calls} LLM call(s), "
            f"{recall.saved.prompt_tokens + recall.saved.completion_tokens} tokens"
        )
        return recall.plan, [], recall.spent  # a confirming call is part of planning
