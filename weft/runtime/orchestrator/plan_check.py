"""The orchestrator's check of a plan, and the trace of the plans it rejects.

Every plan a planner gives (and a plan recalled from memory) is checked
before it is accepted: the validator's rules, then each subtask is routed
(a plan with a subtask no agent fits is rejected, and the planner is asked
again), then the budget estimate with the routed agents' cards. The routing
of the accepted plan is traced as one ``route`` span per subtask under the
ask's ``plan`` span (``run_support.trace_routes``). A rejected plan's
routing is traced too, or ``weft trace show`` could not say why it was
dropped: under the ``plan`` span, one ``note`` span per rejected plan,
``rejected plan N`` (``weft.note``: its problems; ``weft.plan``: its
subtasks; ``weft.plan_rejected``: N), with the ``route`` spans of its
subtasks under it when it got as far as routing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from weft.protocols import ActionSpec, Router
from weft.runtime.orchestrator.plan import Plan
from weft.runtime.orchestrator.routing import RouteChoice, SubtaskRouter, unrouted_problem
from weft.runtime.orchestrator.run_support import trace_routes
from weft.runtime.orchestrator.validator import PlanValidator
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id, trace_id_for


async def check_plan(
    plan: Plan,
    validator: PlanValidator,
    router: SubtaskRouter,
    specs: Mapping[str, ActionSpec],
    raw_router: Router,
) -> tuple[list[str], list[RouteChoice]]:
    """``plan``'s problems (none: it is acceptable) and the routes it got, if it got that far:
    the validator's rules, a subtask no agent fits (naming the agents), the budget estimate."""
    problems = validator.problems(plan)
    if problems:
        return problems, []
    choices = list(await asyncio.gather(*(router.route(s) for s in plan.subtasks)))
    unrouted = [
        unrouted_problem(s, c, raw_router)
        for s, c in zip(plan.subtasks, choices, strict=True)
        if c.action is None
    ]
    if unrouted:
        return [*unrouted, f"the agents are {', '.join(sorted(specs))}"], choices
    cards = {c.subtask: router.card_of(c.action) for c in choices if c.action}
    return validator.estimate_problems(plan, cards), choices


class RejectedPlans:
    """Traces each plan the check rejects under the ask's ``plan`` span (module docstring)."""

    def __init__(self, tracer: Tracer | None, run_id: str, parent_id: str) -> None:
        self.tracer = tracer
        self.run_id = run_id
        self.parent_id = parent_id
        self.count = 0

    def trace(self, plan: Plan, problems: list[str], choices: list[RouteChoice]) -> None:
        """One ``rejected plan N`` note span, its routes under it."""
        self.count += 1
        if self.tracer is None:
            return
        span_id, now = new_span_id(), time.time()
        starts = [c.started for c in choices if c.started]
        self.tracer.record(
            SpanRecord(
                trace_id=trace_id_for(self.run_id),
                span_id=span_id,
                parent_id=self.parent_id,
                name=f"rejected plan {self.count}",
                kind="note",
                start=min(starts, default=now),
                end=now,
                status="ok",
                run_id=self.run_id,
                attributes={
                    "weft.note": f"plan rejected: {'; '.join(problems)}",
                    "weft.plan_rejected": self.count,
                    "weft.plan": [s.model_dump(mode="json") for s in plan.subtasks],
                },
            )
        )
        trace_routes(self.tracer, self.run_id, choices, parent_id=span_id)
