"""What a resumed ask may still spend: the budget it was asked with, less what it spent.

An ask's ``OrchestratorBudget`` bounds the whole ask, so it must hold across a
resume, or stopping and resuming would be a way around it. The ask journals
its budget with its plan (``AskRecord.budget``), and the journal says what it
spent before it stopped:

- tokens and cost: the planner's usage (in the record) plus the usage of every
  top-level subtask the journal saw finish, as ``BudgetWatch`` counted them
  while the ask ran (a ``foreach`` item's and a sub-workflow node's usage are
  inside their parent's). A call cut off by a crash or a cancel reported no
  usage and counts none: nothing says what it spent.
- time: the seconds each earlier run of the plan ran, from its start (or
  resume) to its end; a run whose process died ends at its last journaled
  event. Waiting for a person's answer between runs is no running time.

A resume gets what is left: the run is stopped the moment the whole ask's
spend passes a limit, and a resume that would start over one is refused
before anything runs (``BudgetUsedUp``). Resuming with a larger budget
(``Orchestrator.resume(budget=...)``, ``weft resume --max-tokens``) is how
an ask stopped by its budget is finished.
"""

from __future__ import annotations

from dataclasses import dataclass

from weft.protocols import EventKind, Usage, WeftError
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.outcomes import UsageTally
from weft.runtime.orchestrator.plan import OrchestratorBudget

#: The events of a run on an engine: they open, extend or close its running time.
_RUNNING = frozenset(
    {
        EventKind.NODE_STARTED,
        EventKind.NODE_RETRYING,
        EventKind.NODE_FINISHED,
        EventKind.NODE_SKIPPED,
        EventKind.LOOP_ITERATION,
    }
)


@dataclass(frozen=True)
class Spent:
    """What an ask spent before a resume: its usage, and the seconds its runs ran."""

    usage: Usage
    seconds: float


def spent_before(
    journal: Journal, run_id: str, planner_usage: Usage, planning_s: float = 0.0
) -> Spent:
    """What the ask ``run_id`` spent so far, planning (``planner_usage``, ``planning_s``
    seconds) included (see the module docstring for what counts)."""
    tally = UsageTally()
    tally.add(planner_usage)
    seconds = planning_s
    started: float | None = None
    last = 0.0
    for event in journal.events(run_id):
        kind = event.kind
        if kind in (EventKind.RUN_STARTED, EventKind.RUN_RESUMED):
            if started is not None:  # the run before died without an end
                seconds += last - started
            started = last = event.at
        elif kind is EventKind.RUN_FINISHED:
            if started is not None:
                seconds += event.at - started
            started = None
        elif kind in _RUNNING:
            last = event.at
        key = event.key or ""
        if kind is EventKind.NODE_FINISHED and event.usage and "[" not in key and "/" not in key:
            tally.add(event.usage)
    if started is not None:
        seconds += last - started
    return Spent(tally.total(), seconds)


class BudgetUsedUp(WeftError):
    """A resume refused before anything ran: the ask already spent what its budget allows.

    ``field`` names the ``OrchestratorBudget`` limit that would have to be larger
    (``weft resume`` names its flag instead).
    """

    def __init__(self, run_id: str, field: str, why: str) -> None:
        self.run_id = run_id
        self.field = field
        self.why = why
        super().__init__(
            f"run {run_id} {why} ({field}): resume it with a larger budget "
            "(Orchestrator.resume(budget=...))"
        )


def over_budget(budget: OrchestratorBudget, spent: Spent) -> tuple[str, str] | None:
    """The limit of ``budget`` that ``spent`` leaves nothing of, and why (None: none);
    limits are passed as ``BudgetWatch`` passes them: tokens or cost above the limit,
    time at it."""
    usage = spent.usage
    tokens = usage.prompt_tokens + usage.completion_tokens
    if budget.max_tokens is not None and tokens > budget.max_tokens:
        return (
            "max_tokens",
            f"already spent {tokens} tokens, over its budget of {budget.max_tokens}",
        )
    if budget.max_cost is not None and usage.cost > budget.max_cost:
        return (
            "max_cost",
            f"already spent ${usage.cost:.4f}, over its budget of ${budget.max_cost:.4f}",
        )
    if budget.max_time is not None and spent.seconds >= budget.max_time:
        return (
            "max_time",
            f"already ran {spent.seconds:.2f}s, its whole time budget of {budget.max_time:g}s",
        )
    return None
