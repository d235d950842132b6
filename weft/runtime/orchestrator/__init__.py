"""The orchestrator: a task becomes a validated plan, a routed workflow, and an answer.

Every part is replaceable: the planner (``LLMPlanner``, ``RulePlanner``, any
``Planner``), the router (any ``weft.protocols.Router``; ``LexicalRouter`` is
the model-free fallback), the aggregator (any action taking ``{task,
results}``) and the experience store (``ExperienceStore``; ``NoExperience``
until the Chroma memory lands).
"""

from weft.runtime.orchestrator.aggregate import (
    AGGREGATE_NAME,
    AGGREGATE_SCHEMA,
    ConcatAggregator,
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
from weft.runtime.orchestrator.routing import RouteChoice, SubtaskRouter, card_for
from weft.runtime.orchestrator.rule_planner import RulePlanner, split_task
from weft.runtime.orchestrator.validator import PlanInvalid, PlanValidator
from weft.runtime.routing.lexical_router import LexicalRouter

__all__ = [
    "AGGREGATE_NAME",
    "AGGREGATE_SCHEMA",
    "ANSWER_NODE",
    "Answer",
    "ConcatAggregator",
    "Experience",
    "ExperienceStore",
    "LLMAggregator",
    "LLMPlanner",
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
