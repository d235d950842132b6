"""The planner interface: a task in, a checked plan (or the reasons there is none) out.

A planner never decides on its own that a plan is good: it calls
``request.check(plan)``, which the orchestrator supplies (structure, budgets,
routing), and feeds the problems back to itself when it can (an LLM can be
re-asked; rules cannot). It returns every rejected answer as a
``PlanFailure``, so failures are counted whatever the planner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from weft.protocols import ActionSpec, Usage
from weft.runtime.orchestrator.plan import OrchestratorBudget, Plan, PlanFailure

#: Returns the problems of a plan (empty: acceptable). Supplied by the orchestrator.
PlanCheck = Callable[[Plan], Awaitable[list[str]]]


async def _accept(plan: Plan) -> list[str]:
    return []


@dataclass
class PlanRequest:
    """What a planner gets: the task, what agents exist, the limits, and the judge."""

    task: str
    actions: Sequence[ActionSpec] = ()
    budget: OrchestratorBudget = field(default_factory=OrchestratorBudget)
    check: PlanCheck = _accept
    hint: Plan | None = None
    """A plan that worked for a similar task (experience memory), if any."""
    context: Any = None
    """Where model calls report spans and progress (``record_span``/``progress``), if anywhere."""
    report: Callable[[str], None] | None = None
    """Told, one line each, what planning does between answers (an answer rejected, the
    model asked again, the fallback planner taking over): a slow local model may take
    minutes per answer, and a terminal that shows nothing meanwhile looks hung."""

    def say(self, line: str) -> None:
        """Tell ``report`` (if any) ``line``."""
        if self.report is not None:
            self.report(line)


@dataclass
class PlanOutcome:
    """A checked plan (or None), every rejected answer, and the planner's own usage."""

    plan: Plan | None
    failures: list[PlanFailure] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@runtime_checkable
class Planner(Protocol):
    """Turns a task into a plan that passed ``request.check``."""

    async def plan(self, request: PlanRequest) -> PlanOutcome: ...


def describe_actions(actions: Sequence[ActionSpec]) -> str:
    """One line per action: what a planner needs to choose capabilities."""
    lines = []
    for spec in actions:
        card = spec.card
        text = spec.description or (card.description if card else "")
        skills = f" Skills: {', '.join(card.skills)}." if card and card.skills else ""
        lines.append(f"- {spec.name} ({spec.kind.value}): {text}{skills}".rstrip())
    return "\n".join(lines) or "- (no agents are registered)"


async def checked_plan(
    planner: Planner, request: PlanRequest, accepted: dict[str, list[Any]]
) -> tuple[Plan | None, list[PlanFailure], Usage]:
    """``planner``'s plan if it passes the orchestrator's own check, with its failures.

    A planner is never trusted to have checked its plan; one already accepted
    (``accepted``, by its JSON: the route choices of checked plans) is not checked twice.
    """
    outcome = await planner.plan(request)
    failures = list(outcome.failures)
    plan = outcome.plan
    if plan is not None and plan.model_dump_json() not in accepted:
        problems = await request.check(plan)  # never trust a planner to have checked
        if problems:
            failures.append(
                PlanFailure(
                    attempt=len(failures) + 1,
                    kind="invalid_plan",
                    message="; ".join(problems),
                    raw=plan.model_dump_json()[:2000],
                )
            )
            plan = None
    return plan, failures, outcome.usage
