"""What an ask returns, and the error when no plan could be made."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols import NodeState, RoutingDecision, RunState, Usage, WeftError
from weft.protocols.human_input import question_of
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.orchestrator.plan import Plan, PlanFailure

#: Model errors that say the endpoint did not answer in time, or could not be reached.
UNREACHABLE = frozenset({"APITimeoutError", "APIConnectionError"})


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

    @property
    def over_budget(self) -> str | None:
        """Why planning was stopped by the ask's budget (its time ran out while the
        planner worked); None when it was not."""
        last = self.failures[-1] if self.failures else None
        return last.message if last is not None and last.kind == "budget" else None

    @property
    def model_unavailable(self) -> str | None:
        """Why the planner's model could not be used, when planning ended on that: it
        timed out, the connection failed, or it kept answering with errors that may pass
        (a 5xx, a rate limit). The message names the model, its endpoint and the cause.
        None otherwise, a wrong key or model name included: those are mistakes to fix.
        """
        last = self.failures[-1] if self.failures else None
        if last is None or last.kind != "model_error":
            return None
        if last.retryable or last.error_type in UNREACHABLE:
            return last.message
        return None


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
    questions: dict[str, Any] = Field(
        default_factory=dict,
        description="A run that stopped needs_input: execution key -> what its agent asked "
        "(question, choices). Answer with Orchestrator.resume(run_id, answers=...).",
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


def questions_of(result: RunResult | None) -> dict[str, Any]:
    """What the subtasks of a run that stopped ``needs_input`` asked, by execution key
    (``question``, ``choices``; an A2A agent's free text as ``question``)."""
    if result is None:
        return {}
    asked: dict[str, Any] = {}
    for outcome in result.nodes.values():
        if outcome.state is not NodeState.NEEDS_INPUT:
            continue
        question = question_of(outcome.error)
        if question is None:
            text = outcome.error.message if outcome.error is not None else "input wanted"
            question = {"question": text, "choices": None}
        asked[outcome.key] = {"question": question["question"], "choices": question["choices"]}
    return asked


def waiting_for_answers(result: RunResult) -> str:
    """Why an ask whose run stopped ``needs_input`` has no answer yet: the questions its
    subtasks' agents asked (``ctx.ask``, an A2A agent's input-required). The ask is
    resumable: ``Orchestrator.resume`` (``weft resume RUN --answer NODE=VALUE``)."""
    asked = [
        f"subtask '{key}' asks {question['question']!r}"
        + (f" (one of: {', '.join(map(str, question['choices']))})" if question["choices"] else "")
        for key, question in questions_of(result).items()
    ]
    return "; ".join(asked or ["a subtask's agent wants input"])


def answer_error(result: RunResult | None, stopped: str | None) -> str | None:
    """What an ask's ``Answer.error`` says: why its budget ``stopped`` it (no ``result``),
    the questions its run waits on, or the run's own error."""
    if result is None:
        return stopped
    if result.state is RunState.NEEDS_INPUT:
        return waiting_for_answers(result)
    return result.error


class _Watched(Protocol):
    """What ``budget_notes`` reads of a run's ``BudgetWatch``."""

    outputs: dict[str, Any]
    overran: str | None


def budget_notes(plan: Plan | None, stopped: str | None, watch: _Watched) -> list[str]:
    """What the answer's notes say about the ask's budget (see ``BudgetWatch``).

    Stopped (``stopped``: why) with subtasks finished: the answer was not made, and
    the results those subtasks paid for are in ``Answer.results``, as they are. Not
    stopped but over a limit (``watch.overran``): the answer was made as the limit
    was passed, so it stands, and the note says by how much.
    """
    if stopped is None:
        if watch.overran is None:
            return []
        return [
            f"{watch.overran}: passed as the answer was made, with nothing left to stop; "
            "the answer stands"
        ]
    if plan is None:
        return []
    done = _finished(plan, watch.outputs)
    if not done:
        return []
    total = len(plan.subtasks)
    which = f"all {total}" if len(done) == total else f"{len(done)} of {total}"
    return [
        f"the budget stopped the ask after {which} subtask(s) finished, before the answer "
        "was made: their results are kept as they are, not combined"
    ]


def _finished(plan: Plan, outputs: Mapping[str, Any]) -> list[str]:
    """The subtasks of ``plan`` whose result is in ``outputs``, in plan order (a cluster's
    result is its ``channel_<id>`` node's, counted for its first member only)."""
    return [s.id for s in plan.subtasks if s.id in outputs or f"channel_{s.id}" in outputs]
