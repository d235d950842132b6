"""What an ask returns, and the error when no plan could be made."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols import RoutingDecision, RunState, Usage, WeftError
from weft.protocols.human_input import question_of
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.orchestrator.plan import Plan, PlanFailure


class PlanningError(WeftError):
    """No acceptable plan: every planner answer was rejected. Nothing was executed."""

    def __init__(self, failures: list[PlanFailure], usage: Usage | None = None) -> None:
        self.failures = failures
        self.usage = usage or Usage()
        if failures:
            last = failures[-1]
            detail = f"; last ({last.kind}): {last.message}"
        else:
            detail = ""
        super().__init__(f"no valid plan after {len(failures)} rejected planner answer(s){detail}")


class Answer(BaseModel):
    """The outcome of ``Orchestrator.ask``."""

    model_config = ConfigDict(extra="forbid")

    answer: Any = Field(default=None, description="The aggregated answer (None if the run failed).")
    run_id: str = Field(description="The run, for the journal (`weft runs`) and traces.")
    state: RunState = Field(description="How the run ended.")
    error: str | None = Field(default=None, description="Why it did not succeed, if it did not.")
    plan: Plan | None = Field(default=None, description="The plan that ran (None: fixed workflow).")
    routes: dict[str, str] = Field(default_factory=dict, description="Subtask id -> action name.")
    decisions: dict[str, RoutingDecision] = Field(
        default_factory=dict, description="Subtask id -> the router's decision, with candidates."
    )
    results: dict[str, Any] = Field(default_factory=dict, description="Subtask id -> its output.")
    usage: Usage = Field(default_factory=Usage, description="Planner plus run, all nested calls.")
    planner_usage: Usage = Field(default_factory=Usage, description="The planner's share.")
    plan_failures: list[PlanFailure] = Field(
        default_factory=list, description="Planner answers rejected before one was accepted."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What the orchestrator did on its own, e.g. a fallback to the rule planner.",
    )
    duration_s: float = Field(default=0.0, description="Wall time of the whole ask.")
    reuse: dict[str, Any] | None = Field(
        default=None,
        description="The memory record whose plan ran instead of planning: record, similarity, "
        "why, saved_llm_calls, saved_tokens.",
    )

    @property
    def ok(self) -> bool:
        return self.state is RunState.SUCCEEDED


def waiting_for_answers(result: RunResult) -> str:
    """Why an ask whose run stopped ``needs_input`` has no answer: the questions its subtasks'
    agents asked (``ctx.ask``). ``weft ask`` has no ``--answer``: its plan is made for one
    ask and kept in no file that ``weft resume`` could run again."""
    asked = [
        f"subtask '{name}' asks {question['question']!r}"
        + (f" (one of: {', '.join(map(str, question['choices']))})" if question["choices"] else "")
        for name, outcome in result.nodes.items()
        if (question := question_of(outcome.error)) is not None
    ]
    return (
        "; ".join(asked or ["a subtask's agent wants input"])
        + ". weft ask cannot pass answers on: run the agent in a workflow (weft run) and "
        "answer with weft resume --answer"
    )
