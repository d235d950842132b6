"""The plan the orchestrator executes: subtasks with capabilities and dependencies, and budgets.

``Plan`` is also the structured-output schema the LLM planner asks for, so its
fields are all plain (strings and lists of strings) and documented: the field
descriptions are part of the prompt the model sees.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Subtask ids that cannot be node names: workflow scope names and the answer node.
RESERVED_IDS = frozenset({"inputs", "input", "item", "index", "iteration", "answer"})


class Subtask(BaseModel):
    """One step of a plan, done by one agent."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        description="Short unique id: a letter, then letters, digits, '_' or '-' (e.g. 'research')."
    )
    description: str = Field(description="What to do, self-contained, in one or two sentences.")
    capability: str = Field(
        description="The capability needed, in a few words (e.g. 'web research', 'statistics')."
    )
    depends_on: list[str] = Field(
        default_factory=list,
        description="Ids of the subtasks whose results this one needs; empty if independent.",
    )
    expected_output: str = Field(
        default="", description="What the result should contain (optional, may be empty)."
    )


class Plan(BaseModel):
    """A task broken into subtasks; independent subtasks run in parallel."""

    model_config = ConfigDict(extra="forbid")

    subtasks: list[Subtask] = Field(
        description="The subtasks, in any order; dependencies must form no cycle."
    )


class OrchestratorBudget(BaseModel):
    """Limits on one ``ask``; a plan that would break them is never executed.

    ``max_subtasks`` is checked on the plan; ``max_cost`` and ``max_time`` are
    also estimated before running (from the routed agents' capability cards:
    summed ``cost_per_call``, critical path of ``expected_latency_s``) and all
    of tokens, cost and time are enforced while running: the run is cancelled
    the moment the spent total passes a limit.
    """

    model_config = ConfigDict(extra="forbid")

    max_subtasks: int = Field(default=8, ge=1, description="Most subtasks a plan may have.")
    max_tokens: int | None = Field(
        default=None, ge=1, description="Most prompt + completion tokens for the whole ask."
    )
    max_cost: float | None = Field(default=None, ge=0, description="Most USD for the whole ask.")
    max_time: float | None = Field(
        default=None,
        gt=0,
        description="Most seconds for the whole ask: planning, then running the plan.",
    )
    max_plan_attempts: int = Field(
        default=3, ge=1, description="Planner tries (first answer + re-asks) before giving up."
    )


FailureKind = Literal["malformed_json", "schema", "invalid_plan", "model_error", "budget"]


class PlanFailure(BaseModel):
    """A planner answer that was rejected, and why. Counted, reported, never executed."""

    model_config = ConfigDict(extra="forbid")

    attempt: int = Field(description="Which planner attempt produced it (1-based).")
    kind: FailureKind = Field(description="What was wrong with it.")
    message: str = Field(description="The problem(s), as fed back to the planner.")
    raw: str | None = Field(default=None, description="The rejected answer (truncated).")
    error_type: str | None = Field(
        default=None,
        description="For a model_error: the error's type (APITimeoutError, APIConnectionError, "
        "AuthenticationError, ...).",
    )
    retryable: bool = Field(
        default=False,
        description="For a model_error: the same request may work later (a 5xx, a rate limit).",
    )
