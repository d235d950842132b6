"""The seam for experience memory: remember what worked, offer it for the next similar task.

The orchestrator asks ``lookup(task)`` before planning (a hit is passed to the
planner as ``PlanRequest.hint``, and still validated like any plan) and calls
``record(experience)`` after every run. The Chroma-backed store is a later
piece; until then ``NoExperience`` keeps nothing.
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


@runtime_checkable
class ExperienceStore(Protocol):
    """Where experience is kept; implementations must tolerate concurrent asks."""

    async def lookup(self, task: str) -> Plan | None:
        """A plan that worked for a similar task, or None."""
        ...

    async def record(self, experience: Experience) -> None:
        """Remember one finished ask."""
        ...


class NoExperience:
    """Remembers nothing: every task is planned afresh."""

    async def lookup(self, task: str) -> Plan | None:
        return None

    async def record(self, experience: Experience) -> None:
        return None
