"""What a resume needs of an ask, kept in the run's journal.

A ``weft run`` run is resumed from the workflow file the journal names
(``runs.source``). An ask has no such file: its workflow is compiled from a
plan the planner wrote and routes the router chose, both for this one run. So
the orchestrator journals them, as an ``AskRecord``, before the run starts:
the task, the accepted plan, each subtask's route and the router's decision,
the aggregator and the FoA channels, the budget the ask was given (it holds
across a resume, ``resume_budget``), plus ``options``, whatever the caller
that built the orchestrator needs to build it again (``weft ask`` keeps its
``--agents``, model and aggregator there). ``Orchestrator.resume`` rebuilds the
same workflow from it, so the same agents run and the graph hash matches.

The record is one event of the run (kind ``progress``, key ``ask``), written
as the run starts (``saving``): kept,
copied and pruned with the run, with secrets masked like every journal row.
The executor never journals ``progress`` events (they are live-only), so this
one cannot be confused with anything a run writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols import EventKind, RoutingDecision, RunEvent, Usage
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.resume_checks import ASK_EVENT_KEY
from weft.runtime.orchestrator.plan import OrchestratorBudget, Plan

#: The key of the journal event that holds an ask's record (the engine's resume knows it).
ASK_KEY = ASK_EVENT_KEY


class AskRecord(BaseModel):
    """An ask's plan and routes, as journaled with its run (see the module docstring)."""

    model_config = ConfigDict(extra="ignore")

    task: str = Field(description="The task as asked.")
    plan: Plan = Field(description="The plan that runs.")
    routes: dict[str, str] = Field(description="Subtask id -> the action it was routed to.")
    decisions: dict[str, RoutingDecision] = Field(
        default_factory=dict, description="Subtask id -> the router's decision, with candidates."
    )
    aggregator: str = Field(description="The name of the action that makes the answer.")
    cluster_rounds: int | None = Field(
        default=None, description="Refinement rounds of the FoA channels, if any."
    )
    channels: list[list[str]] = Field(
        default_factory=list, description="The subtask ids of each FoA channel, in order."
    )
    planner_usage: Usage = Field(default_factory=Usage, description="What planning spent.")
    planning_s: float = Field(
        default=0.0, ge=0, description="Seconds the ask planned: they count against max_time."
    )
    budget: OrchestratorBudget | None = Field(
        default=None,
        description="The budget the ask was given; a resume is held to it, counting what the "
        "ask spent (None: a record journaled before budgets were kept).",
    )
    reused: str | None = Field(
        default=None,
        description="The memory record whose plan this is (a reuse), for the experience "
        "the resumed ask records.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="What the caller needs to build the orchestrator again (weft ask's flags).",
    )


def saving(journal: Journal, run_id: str, record: AskRecord) -> Callable[[RunEvent], None]:
    """A run listener that journals ``record`` once the run has started.

    Not before: a run id already in the journal is refused by ``start_run``,
    and its run must not get this ask's record.
    """

    def listener(event: RunEvent) -> None:
        if event.kind is EventKind.RUN_STARTED and event.run_id == run_id:
            journal.append(
                RunEvent(
                    run_id=run_id,
                    kind=EventKind.PROGRESS,
                    key=ASK_KEY,
                    data={"ask": record.model_dump(mode="json")},
                )
            )

    return listener


def load_ask(journal: Journal, run_id: str) -> AskRecord | None:
    """The record of ``run_id`` (a full run id), or None when it is no planned ask."""
    for event in journal.events(run_id):
        if event.kind is EventKind.PROGRESS and event.key == ASK_KEY and "ask" in event.data:
            return AskRecord.model_validate(event.data["ask"])
    return None
