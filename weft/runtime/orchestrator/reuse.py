"""Helpers of a reused plan: its trace span, its summary on the answer, subtask states,
and the ``Experience`` an ask (or its resume) leaves for the next reuse."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from weft.protocols import NodeState
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.orchestrator.answer import Answer
from weft.runtime.orchestrator.experience import Experience, Recall
from weft.runtime.orchestrator.plan import Plan
from weft.runtime.orchestrator.run_support import trace_instant
from weft.runtime.tracing.spans import Tracer


async def remember(what: str, step: Awaitable[None]) -> list[str]:
    """Await one learning step of an ended ask (router outcomes, its experience record);
    the notes to add to its answer: none, or one saying the step failed.

    Memory is a side effect: when its store fails by then (a Chroma server
    stopped, a locked or full disk) the answer the run produced must not be
    lost. The failure becomes a note on the answer, which ``weft ask`` prints.
    """
    try:
        await step
    except Exception as exc:
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        return [f"{what} failed (the answer stands): {text}"]
    return []


def reuse_summary(recall: Recall) -> dict[str, Any]:
    """What ``Answer.reuse`` says: which record, how similar, why, and what it saved."""
    saved = recall.saved
    return {
        "record": recall.record,
        "task": recall.task,
        "similarity": round(recall.similarity, 4),
        "why": recall.why,
        "borderline": recall.borderline,
        "saved_llm_calls": saved.llm_calls,
        "saved_tokens": saved.prompt_tokens + saved.completion_tokens,
    }


def trace_reuse(
    tracer: Tracer | None,
    run_id: str,
    recall: Recall,
    problems: list[str],
    *,
    parent_id: str | None = None,
) -> None:
    """A ``memory`` span under ``parent_id`` (the ask's ``plan`` span): the record, the
    similarity, why it was (or was not) reused."""
    trace_instant(
        tracer,
        run_id,
        "memory reuse",
        "memory",
        {
            "weft.memory.record": recall.record,
            "weft.memory.task": recall.task,
            "weft.memory.similarity": recall.similarity,
            "weft.memory.why": recall.why,
            "weft.memory.reused": not problems,
            "weft.memory.problems": problems or None,
            "weft.memory.saved_llm_calls": recall.saved.llm_calls,
        },
        status="error" if problems else "ok",
        node="plan",
        parent_id=parent_id,
    )


def subtask_states(plan: Plan, result: RunResult | None) -> dict[str, bool]:
    """Subtask id -> whether it succeeded (all False when the run never ran)."""
    nodes = result.nodes if result is not None else {}
    return {
        s.id: (nodes[s.id].state is NodeState.SUCCEEDED) if s.id in nodes else False
        for s in plan.subtasks
    }


def experience_of(
    task: str,
    plan: Plan,
    answer: Answer,
    result: RunResult | None,
    *,
    reused: str | None = None,
    resumed: bool = False,
) -> Experience:
    """What the experience store keeps of the ask ``answer`` ended: its plan, how each
    subtask went, what it spent, the record it ``reused``; ``resumed`` for a resume's."""
    return Experience(
        task=task,
        plan=plan,
        routes=answer.routes,
        succeeded=answer.ok,
        usage=answer.usage,
        run_id=answer.run_id,
        planner_usage=answer.planner_usage,
        subtasks=subtask_states(plan, result),
        outputs={k: str(v) for k, v in answer.results.items() if v is not None},
        reused=reused,
        resumed=resumed,
    )
