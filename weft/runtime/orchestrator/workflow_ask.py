"""The budget of an ask given a workflow (``weft ask --workflow FILE``), across resumes.

An ask with a workflow plans nothing: it is a run of the file, and a run of
a file is resumed from the file (``weft resume`` loads it again, with its
remote agents, router and display), not rebuilt from an ``AskRecord``. Its
budget (``--max-tokens``, ``--max-cost``, ``--max-time``) must still hold
across a resume, as a planned ask's does (``resume_budget``), or stopping
and resuming would be a way around it. So the orchestrator journals the
budget with the run (``saving``: one ``progress`` event, key
``workflow_ask``, written when the run starts) and a resume of the run
(``ResumeBudget``):

- is refused before anything runs when what the ask spent already leaves
  nothing of a limit (``BudgetUsedUp``, as for a planned ask);
- else runs with a ``BudgetWatch`` that counts what it spent before (the
  journal's finished top-level nodes, and the seconds its earlier runs ran)
  and cancels the run the moment the whole ask passes a limit; the result
  is then the run's, ``cancelled``, its error saying which limit
  (``token budget exceeded: 120 > 100``), its usage the whole ask's.

A limit given to the resume replaces the ask's (how an ask its budget
stopped is finished). The resume ends as the ask did (``answer``): with the
ask's ``Answer``, whose ``results``, when the budget stopped it again, are
every node that finished so far, in this run or before it. A run journaled
before budgets were kept with workflow asks has no such record and resumes
as a plain workflow run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from weft.protocols import EventKind, RunEvent, RunState, Usage
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.orchestrator.answer import Answer
from weft.runtime.orchestrator.fixed_ask import workflow_answer
from weft.runtime.orchestrator.plan import OrchestratorBudget
from weft.runtime.orchestrator.resume_budget import BudgetUsedUp, over_budget, spent_before
from weft.runtime.orchestrator.run_support import BudgetWatch

#: A resume of the run, given its listeners (``weft resume``'s ``go``).
Starter = Callable[[list[Any]], Coroutine[Any, Any, RunResult]]

#: The key of the journal event that holds a workflow ask's budget.
WORKFLOW_ASK_KEY = "workflow_ask"

#: The limits that bound a run as it goes (the others bound planning).
RUN_LIMITS = ("max_tokens", "max_cost", "max_time")


def saving(
    journal: Journal, run_id: str, task: str, budget: OrchestratorBudget
) -> Callable[[RunEvent], None]:
    """A run listener that journals the ask's ``budget`` once its run has started (not
    before: ``start_run`` refuses a run id already in the journal)."""

    def listener(event: RunEvent) -> None:
        if event.kind is EventKind.RUN_STARTED and event.run_id == run_id:
            data = {"task": task, "budget": budget.model_dump(mode="json")}
            journal.append(
                RunEvent(
                    run_id=run_id,
                    kind=EventKind.PROGRESS,
                    key=WORKFLOW_ASK_KEY,
                    data={WORKFLOW_ASK_KEY: data},
                )
            )

    return listener


def load_budget(journal: Journal, run_id: str) -> OrchestratorBudget | None:
    """The budget the workflow ask ``run_id`` (a full run id) was given, or None when the
    run is no workflow ask."""
    for event in journal.events(run_id):
        if event.kind is EventKind.PROGRESS and event.key == WORKFLOW_ASK_KEY:
            found = event.data.get(WORKFLOW_ASK_KEY) or {}
            return OrchestratorBudget.model_validate(found.get("budget") or {})
    return None


class ResumeBudget:
    """What a resume of a workflow ask may spend, and the watch that holds it to that."""

    def __init__(self, journal: Journal, run_id: str, budget: OrchestratorBudget) -> None:
        self.run_id = run_id
        self.budget = budget
        self.spent = spent_before(journal, run_id, Usage())
        used_up = over_budget(budget, self.spent)
        if used_up is not None:
            raise BudgetUsedUp(run_id, *used_up)
        #: Outputs of the calls that finished before: results the ask already paid for.
        self.finished = journal.completed_calls(run_id)
        #: The watch of the last ``run``, and when it started (for ``answer``).
        self.watch: BudgetWatch | None = None
        self.started = time.time()

    @classmethod
    def of(
        cls, journal: Journal, run_id: str, limits: Mapping[str, Any] | None = None
    ) -> ResumeBudget | None:
        """The budget of the workflow ask ``run_id``, ``limits`` (field -> value, None: the
        ask's) in place of its own; None for a run that is no workflow ask, or has no limit
        a run can pass. ``BudgetUsedUp`` when it is used up already."""
        journaled = load_budget(journal, run_id)
        if journaled is None:
            return None
        given = {k: v for k, v in (limits or {}).items() if v is not None}
        budget = OrchestratorBudget.model_validate({**journaled.model_dump(), **given})
        if all(getattr(budget, name) is None for name in RUN_LIMITS):
            return None
        return cls(journal, run_id, budget)

    def around(self, start: Starter, workflow: str = "") -> Starter:
        """``start`` (listeners -> a resume of the run) held to the budget (``run``)."""

        async def bounded(listeners: list[Any]) -> RunResult:
            return await self.run(start, listeners, workflow)

        return bounded

    async def run(
        self,
        start: Starter,
        listeners: Sequence[Any] = (),
        workflow: str = "",
    ) -> RunResult:
        """Run ``start(listeners + [the watch])`` (a resume of the run) within the budget;
        a run the watch stopped comes back ``cancelled`` with why (module docstring)."""
        watch = BudgetWatch(self.budget, self.spent.usage, self.spent.seconds, cached=self.finished)
        self.watch, self.started = watch, time.time()
        started = self.started
        task: asyncio.Task[RunResult] = asyncio.get_running_loop().create_task(
            start([*listeners, watch]), name=f"weft-ask-resume-{self.run_id[:8]}"
        )
        watch.task = task
        try:
            result = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if watch.reason is None or (current is not None and current.cancelling()):
                raise
            return RunResult(
                run_id=self.run_id,
                workflow=workflow,
                state=RunState.CANCELLED,
                outputs={},
                nodes={},
                usage=watch.tally.total(),
                started_at=started,
                finished_at=time.time(),
                error=watch.reason,
            )
        finally:
            watch.close()
        return result

    def answer(self, result: RunResult, order: list[str], total: int | None) -> Answer:
        """The resumed ask's ``Answer``, as ``weft ask --workflow`` makes it for its first
        run (``fixed_ask``): ``result`` is what ``run`` returned; ``order`` and ``total``
        are the workflow's top-level nodes (its finished ones are listed in that order)."""
        watch = self.watch
        if watch is None:
            raise RuntimeError("ResumeBudget.answer before run")
        stopped = watch.reason if result.state is RunState.CANCELLED else None
        run = None if stopped is not None and result.error == stopped else result
        stopped = stopped if run is None else None
        return workflow_answer(
            result.workflow,
            order,
            total,
            self.run_id,
            self.started,
            run,
            stopped,
            watch.tally.total(),
            watch,
        )
