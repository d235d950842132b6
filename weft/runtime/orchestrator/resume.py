"""Finishing an ask that stopped: failed, cancelled, killed, or waiting for a person's answer.

The journaled ``AskRecord`` (``ask_record``) gives the plan, the routes and
the FoA channels; they become the same workflow again (``plan_to_workflow``),
which must have the graph hash the run started with: the same agents run the
same subtasks, no new plan is made and no route is chosen again. Then the run
is resumed as ``weft resume`` resumes a workflow run (``engine.resume_checks``:
the same refusals, the lease, the answers): calls that finished are served
from the journal, the others run, and the aggregator makes the answer.

The ask's budget holds across the resume (``resume_budget``): the resumed run
gets what the ask has left of it, and a resume that would start over it is
refused before anything runs. The run may finish on LangGraph's engine
(``engine="langgraph"``), as a workflow run may: the workflow and the
resume's inputs (cached calls, answers, lease) are the same for both engines.

A resume records the ask's experience again, as the ask finally ended: the
ask recorded it as failed (or not at all, when its process died), and a plan
that succeeded once a person answered its question or its failure was fixed
is a plan worth reusing. The experience is marked ``resumed``, so the store
replaces the run's record instead of adding a second one
(``memory_experience``: one record per ask, its reuse counted once), and a
resume that fails again leaves it failed. It also teaches the router how the
subtasks that ran again went (``routing.teach_router``): those served from
the journal were counted when they ran, and one that failed and then
succeeded once its cause was fixed has shown that its agent does the job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from weft.protocols import Action, ActionSpec, WeftError
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.lease import Lease
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.engine.resume_checks import check_same_graph, run_to_resume, take_run
from weft.runtime.orchestrator.ask_record import AskRecord, load_ask
from weft.runtime.orchestrator.compile import cluster_actions, plan_to_workflow
from weft.runtime.orchestrator.plan import OrchestratorBudget
from weft.runtime.orchestrator.plan_hook import PlanHook, notify_plan
from weft.runtime.orchestrator.resume_budget import (
    BudgetUsedUp,
    Spent,
    over_budget,
    spent_before,
)
from weft.runtime.orchestrator.routing import RouteChoice
from weft.workflows import Workflow


def ask_of(journal: Journal | None, run_id: str) -> tuple[str, AskRecord]:
    """The full run id and the ask record of ``run_id`` (a prefix will do) in ``journal``;
    ``WeftError`` when there is no journal or the run is no planned ask."""
    if journal is None:
        raise WeftError("resuming an ask needs the journal it ran in (Orchestrator(journal=...))")
    run = journal.get_run(run_id)
    record = load_ask(journal, run.run_id)
    if record is None:
        raise WeftError(
            f"run {run.run_id} is no planned ask (workflow '{run.workflow}'); "
            "resume it with resume_run or weft resume"
        )
    return run.run_id, record


def rebuild(registry: ActionRegistry, aggregator: str | ActionSpec, record: AskRecord) -> Workflow:
    """The workflow the ask ran, from its record, the actions in ``registry`` and the
    ``aggregator`` action (its spec, or its name).

    ``WeftError`` naming what is missing when a routed action or the
    aggregator is not among them: resuming with other agents would run
    another plan.
    """
    names = set(registry.names())
    missing = sorted({a for a in record.routes.values() if a not in names})
    if missing:
        raise WeftError(
            f"the ask routed subtasks to {', '.join(missing)}, which the agents given now "
            f"lack; agents: {', '.join(sorted(names)) or 'none'}"
        )
    name = aggregator.name if isinstance(aggregator, ActionSpec) else aggregator
    if name != record.aggregator:
        raise WeftError(
            f"the ask's answer is made by '{record.aggregator}', this orchestrator's "
            f"aggregator is '{name}'"
        )
    specs = registry.specs()
    channels = cluster_actions(record.channels, record.routes, record.cluster_rounds or 1)
    return plan_to_workflow(
        record.plan,
        record.routes,
        specs,
        aggregator=aggregator,
        description=record.task[:200],
        channels=channels,
    )


Engine = Literal["weft", "langgraph"]


@dataclass
class Resuming:
    """An ask ready to run again: the run taken (its lease held), its answers journaled."""

    run_id: str
    record: AskRecord
    prepared: PreparedWorkflow
    inputs: dict[str, Any]
    #: What the executor gets for a resumed run: cached calls, answers, the states the
    #: calls that asked saved (``Journal.resume_states``), the lease.
    options: dict[str, Any]
    #: The budget the resumed run is held to, and what the ask spent of it before.
    budget: OrchestratorBudget
    spent: Spent

    def choices(self) -> list[RouteChoice]:
        """The route of each subtask with the router's decision, as the ask chose them."""
        record = self.record
        return [
            RouteChoice(
                subtask=s.id, action=record.routes.get(s.id), decision=record.decisions[s.id]
            )
            for s in record.plan.subtasks
            if s.id in record.decisions
        ]


def take_ask(
    journal: Journal | None,
    run_id: str,
    registry: ActionRegistry,
    aggregator: Action,
    *,
    answers: Mapping[str, Any] | None,
    force: bool,
    on_takeover: Callable[[Lease], None] | None,
    on_plan: PlanHook | None,
    budget: OrchestratorBudget | None = None,
    fallback_budget: OrchestratorBudget | None = None,
    engine: Engine = "weft",
) -> Resuming:
    """Check that the ask ``run_id`` can be resumed with these actions, within its budget
    and on ``engine``, show its plan to ``on_plan``, and take it (``Orchestrator.resume``;
    see the module docstring).

    The budget is ``budget`` when given, else the one the ask journaled, else (a record
    from before budgets were journaled) ``fallback_budget``. ``WeftError`` naming the
    limit when what the ask spent leaves nothing of it, before the run is taken.
    """
    full_id, record = ask_of(journal, run_id)
    assert journal is not None
    run, _ = run_to_resume(journal, full_id, record, resumer="Orchestrator.resume")
    workflow = rebuild(registry, aggregator.spec, record)
    prepared = compile_workflow(workflow, registry.merged(ActionRegistry([aggregator])))
    check_same_graph(prepared, run, force=force)
    if engine == "langgraph":
        from weft.runtime.engine.to_langgraph import langgraph_usable

        langgraph_usable(prepared)
    elif engine != "weft":
        raise WeftError(f"unknown engine {engine!r}: weft or langgraph")
    limits = budget or record.budget or fallback_budget or OrchestratorBudget()
    spent = spent_before(journal, run.run_id, record.planner_usage, record.planning_s)
    used_up = over_budget(limits, spent)
    if used_up is not None:
        raise BudgetUsedUp(run.run_id, *used_up)
    lease, given = take_run(journal, run, answers, on_takeover)
    if on_plan is not None:  # shown once the run is ours: a refusal shows nothing
        clusters = {f"channel_{ids[0]}": list(ids) for ids in record.channels}
        notify_plan(on_plan, record.plan, record.routes, clusters)
    # read what finished only now: no other process can add to it any more
    cache = journal.completed_calls(run.run_id)
    return Resuming(
        run.run_id,
        record,
        prepared,
        run.inputs,
        {
            "cache": cache,
            "answers": given,
            "resume_states": journal.resume_states(run.run_id),
            "resumed": True,
            "lease": lease,
        },
        limits,
        spent,
    )
