"""The orchestrator: a task becomes a validated plan, a routed workflow, and an answer.

Every part is replaceable: the planner (``LLMPlanner``, ``RulePlanner``, any
``Planner``), the router (any ``weft.protocols.Router``; ``LexicalRouter`` is
the model-free fallback), the aggregator (any action taking ``{task,
results}``: ``ConcatAggregator``, ``LLMAggregator``, ``LastAggregator``) and
the experience store (``ExperienceStore``; ``NoExperience`` until the Chroma
memory lands).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AGGREGATE_NAME": "weft.runtime.orchestrator.aggregate",
    "AGGREGATE_SCHEMA": "weft.runtime.orchestrator.aggregate",
    "ANSWER_NODE": "weft.runtime.orchestrator.compile",
    "Answer": "weft.runtime.orchestrator.answer",
    "BudgetUsedUp": "weft.runtime.orchestrator.resume_budget",
    "ConcatAggregator": "weft.runtime.orchestrator.aggregate",
    "Experience": "weft.runtime.orchestrator.experience",
    "ExperienceStore": "weft.runtime.orchestrator.experience",
    "LLMAggregator": "weft.runtime.orchestrator.aggregate",
    "LastAggregator": "weft.runtime.orchestrator.aggregate",
    "LLMPlanner": "weft.runtime.orchestrator.llm_planner",
    "LexicalRouter": "weft.runtime.routing.lexical_router",
    "NoExperience": "weft.runtime.orchestrator.experience",
    "Orchestrator": "weft.runtime.orchestrator.orchestrator",
    "OrchestratorBudget": "weft.runtime.orchestrator.plan",
    "Plan": "weft.runtime.orchestrator.plan",
    "PlanCheck": "weft.runtime.orchestrator.planners",
    "PlanFailure": "weft.runtime.orchestrator.plan",
    "PlanInvalid": "weft.runtime.orchestrator.validator",
    "PlanOutcome": "weft.runtime.orchestrator.planners",
    "PlanRequest": "weft.runtime.orchestrator.planners",
    "PlanValidator": "weft.runtime.orchestrator.validator",
    "Planner": "weft.runtime.orchestrator.planners",
    "PlanningError": "weft.runtime.orchestrator.answer",
    "RouteChoice": "weft.runtime.orchestrator.routing",
    "RulePlanner": "weft.runtime.orchestrator.rule_planner",
    "Subtask": "weft.runtime.orchestrator.plan",
    "SubtaskRouter": "weft.runtime.orchestrator.routing",
    "accepts_subtask": "weft.runtime.orchestrator.compile",
    "card_for": "weft.runtime.orchestrator.routing",
    "plan_inputs": "weft.runtime.orchestrator.compile",
    "plan_to_workflow": "weft.runtime.orchestrator.compile",
    "split_task": "weft.runtime.orchestrator.rule_planner",
    "subtask_arguments": "weft.runtime.orchestrator.compile",
}

__all__ = [
    "AGGREGATE_NAME",
    "AGGREGATE_SCHEMA",
    "ANSWER_NODE",
    "Answer",
    "BudgetUsedUp",
    "ConcatAggregator",
    "Experience",
    "ExperienceStore",
    "LLMAggregator",
    "LLMPlanner",
    "LastAggregator",
    "LexicalRouter",
    "NoExperience",
    "Orchestrator",
    "OrchestratorBudget",
    "Plan",
    "PlanCheck",
    "PlanFailure",
    "PlanInvalid",
    "PlanOutcome",
    "PlanRequest",
    "PlanValidator",
    "Planner",
    "PlanningError",
    "RouteChoice",
    "RulePlanner",
    "Subtask",
    "SubtaskRouter",
    "accepts_subtask",
    "card_for",
    "plan_inputs",
    "plan_to_workflow",
    "split_task",
    "subtask_arguments",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.orchestrator.aggregate import (
        AGGREGATE_NAME,
        AGGREGATE_SCHEMA,
        ConcatAggregator,
        LastAggregator,
        LLMAggregator,
    )
    from weft.runtime.orchestrator.answer import Answer, PlanningError
    from weft.runtime.orchestrator.compile import (
        ANSWER_NODE,
        accepts_subtask,
        plan_inputs,
        plan_to_workflow,
        subtask_arguments,
    )
    from weft.runtime.orchestrator.experience import Experience, ExperienceStore, NoExperience
    from weft.runtime.orchestrator.llm_planner import LLMPlanner
    from weft.runtime.orchestrator.orchestrator import Orchestrator
    from weft.runtime.orchestrator.plan import OrchestratorBudget, Plan, PlanFailure, Subtask
    from weft.runtime.orchestrator.planners import PlanCheck, Planner, PlanOutcome, PlanRequest
    from weft.runtime.orchestrator.resume_budget import BudgetUsedUp
    from weft.runtime.orchestrator.routing import RouteChoice, SubtaskRouter, card_for
    from weft.runtime.orchestrator.rule_planner import RulePlanner, split_task
    from weft.runtime.orchestrator.validator import PlanInvalid, PlanValidator
    from weft.runtime.routing.lexical_router import LexicalRouter
