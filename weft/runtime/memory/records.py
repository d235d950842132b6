"""What the experience memory keeps: one record per finished task, one per useful step.

A ``MemoryRecord`` is the task, the plan that ran (the subtask graph, as the
JSON of ``weft.runtime.orchestrator.Plan``: this room sits below the
orchestrator and keeps plans as plain data), how each subtask went, what the
run cost, and how often the record has been reused since. ``StepRecord`` is
one agent call worth showing as a few-shot example later.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["good", "bad"]


def new_record_id() -> str:
    """A short, unique record id (``mem-`` and 12 hex digits)."""
    return f"mem-{uuid.uuid4().hex[:12]}"


def single_subtask_plan(task: str) -> dict[str, Any]:
    """The plan of a task done in one step: what ``weft memory add`` records without ``--plan``."""
    return {
        "subtasks": [
            {
                "id": "task",
                "description": task,
                "capability": task[:80],
                "depends_on": [],
                "expected_output": "",
            }
        ]
    }


class SubtaskOutcome(BaseModel):
    """How one subtask of a recorded run went."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The subtask id in the plan.")
    agent: str | None = Field(default=None, description="The action that ran it.")
    succeeded: bool = Field(default=True, description="Whether it finished without error.")
    quality: float | None = Field(
        default=None, ge=0, le=1, description="0..1 from a checker, a judge or the user."
    )
    redundant: bool = Field(
        default=False,
        description="The answer did not need it (it failed or was empty, yet the run succeeded): "
        "a reused plan drops it.",
    )


class RecordUsage(BaseModel):
    """What the recorded run spent, and what the planner's share of it was."""

    model_config = ConfigDict(extra="forbid")

    llm_calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    latency_s: float = 0.0
    planner_calls: int = Field(default=0, description="LLM calls the planner made.")
    planner_tokens: int = Field(default=0, description="Tokens the planner spent.")


class MemoryRecord(BaseModel):
    """One finished task; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_record_id, description="The record id.")
    task: str = Field(min_length=1, description="The task as asked.")
    plan: dict[str, Any] = Field(description="The plan that ran: {'subtasks': [...]}.")
    outcome: Outcome | None = Field(default=None, description="good / bad, if judged.")
    quality: float | None = Field(
        default=None, ge=0, le=1, description="Quality of the whole run, 0..1, if measured."
    )
    subtasks: list[SubtaskOutcome] = Field(default_factory=list, description="Per subtask.")
    usage: RecordUsage = Field(default_factory=RecordUsage, description="What the run spent.")
    agents: list[str] = Field(default_factory=list, description="The actions used.")
    run_id: str | None = Field(default=None, description="The run, for feedback and traces.")
    source: Literal["ask", "manual", "import"] = Field(default="manual")
    created: float = Field(default_factory=time.time, description="Unix time recorded.")
    uses: int = Field(default=0, ge=0, description="Times this plan was reused since.")
    reused_from: str | None = Field(
        default=None, description="The record whose plan this run reused (a duplicate of it)."
    )
    saved_calls: int = Field(default=0, ge=0, description="LLM calls its reuses saved.")
    saved_tokens: int = Field(default=0, ge=0, description="Tokens its reuses saved.")
    variants: list[str] = Field(
        default_factory=list,
        description="Tasks of the near-duplicate records pruning merged into this one: "
        "matched like the task itself, so one record keeps every phrasing it covered.",
    )

    def reusable(self) -> bool:
        """A plan may be reused unless the run was judged bad or failed."""
        return self.outcome != "bad" and (self.quality is None or self.quality >= 0.5)


class StepRecord(BaseModel):
    """One agent call worth reusing as a few-shot example."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_record_id)
    agent: str = Field(description="The agent that made it.")
    input: str = Field(min_length=1, description="What the agent was asked.")
    output: str = Field(description="What it answered.")
    quality: float = Field(default=1.0, ge=0, le=1, description="How good the answer was.")
    run_id: str | None = None
    created: float = Field(default_factory=time.time)
