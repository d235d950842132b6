"""The seam for experience memory: remember what worked, offer it for the next similar task.

The orchestrator asks ``lookup(task)`` before planning and calls
``record(experience)`` after every run. ``lookup`` may answer

- a ``Recall``: a past plan judged to be this task's plan (the reuse rule of
  ``weft.runtime.memory``), already filled with this task's parameters. The
  orchestrator checks it like any plan and runs it *instead of* planning
  (a shortcut); a recall that fails the check falls back to the planner,
  with the plan as a hint;
- a bare ``Plan``: only a hint for the planner (``PlanRequest.hint``);
- ``None``: plan afresh.

``record`` is called again when a stopped ask is resumed (``resumed``): the
ask's outcome is how it finally ended, so a plan that succeeded once its
question was answered, or its failure fixed, is reused like any other.

``NoExperience`` keeps nothing; ``memory_experience.MemoryExperience`` is
the Chroma-backed store.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols import Usage
from weft.runtime.orchestrator.plan import Plan


class Experience(BaseModel):
    """One finished ask: the task, the plan that ran, and how it went."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(description="The task as asked.")
    plan: Plan = Field(description="The plan that was executed.")
    routes: dict[str, str] = Field(default_factory=dict, description="Subtask id -> action.")
    succeeded: bool = Field(description="Whether the run succeeded.")
    usage: Usage = Field(default_factory=Usage, description="Planner + run usage.")
    run_id: str = Field(description="The run, for its journal and traces.")
    planner_usage: Usage = Field(default_factory=Usage, description="The planner's share.")
    subtasks: dict[str, bool] = Field(
        default_factory=dict, description="Subtask id -> whether it succeeded."
    )
    outputs: dict[str, str] = Field(
        default_factory=dict, description="Subtask id -> its output as text (for step examples)."
    )
    reused: str | None = Field(default=None, description="The memory record whose plan ran.")
    resumed: bool = Field(
        default=False,
        description="The run was resumed (``Orchestrator.resume``): this is how the ask of "
        "``run_id`` ended after all, to replace what was recorded when it stopped.",
    )


class Recall(BaseModel):
    """A past plan to run instead of planning: what memory found, and why."""

    model_config = ConfigDict(extra="forbid")

    plan: Plan = Field(description="The past plan, filled with this task's parameters.")
    record: str = Field(description="The memory record it came from.")
    task: str = Field(description="The past task.")
    similarity: float = Field(description="Similarity of the two tasks, parameters masked.")
    why: str = Field(description="What the reuse rule checked.")
    borderline: bool = Field(default=False, description="Close to the line (and not confirmed).")
    saved: Usage = Field(
        default_factory=Usage,
        description="The planner usage of the original run, less ``spent``: what reuse saves.",
    )
    spent: Usage = Field(
        default_factory=Usage,
        description="What finding it cost (a model call confirming a borderline match); "
        "counted as this run's planner usage.",
    )


@runtime_checkable
class ExperienceStore(Protocol):
    """Where experience is kept; implementations must tolerate concurrent asks."""

    async def lookup(self, task: str) -> Recall | Plan | None:
        """A plan to reuse (``Recall``), a hint for the planner (``Plan``), or None."""
        ...

    async def record(self, experience: Experience) -> None:
        """Remember one finished ask.

        An ask that stopped (failed, cancelled, waiting for a person) and was
        resumed comes again with ``resumed=True`` and the same ``run_id``: one
        ask, so a store replaces that run's record (keeping its reuse counts)
        instead of adding a second one.
        """
        ...


class NoExperience:
    """Remembers nothing: every task is planned afresh."""

    async def lookup(self, task: str) -> Recall | Plan | None:
        return None

    async def record(self, experience: Experience) -> None:
        return None
