"""What every resume checks before it runs anything, whichever engine finishes the run.

``resume_run`` (weft's engine) and ``resume_langgraph`` (LangGraph's) must
refuse the same things with the same words: a run that already succeeded, a
run another process still holds, a run started from Python with no workflow
given, a graph that changed since the run started, and an answer to a
question the run did not ask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from weft.protocols import EventKind, ResumeMismatchError, RunState, WeftError
from weft.runtime.engine.answers import checked_answers, record_answers
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.journal import Journal, RunRecord
from weft.runtime.engine.lease import Lease

#: The key of the journal event in which the orchestrator keeps an ask's plan and routes
#: (``weft.runtime.orchestrator.ask_record``): such a run has no file, but is resumable.
ASK_EVENT_KEY = "ask"


def run_to_resume(
    store: Journal, run_id: str, definition: Any, *, resumer: str
) -> tuple[RunRecord, Any]:
    """The run and the definition to finish it with (its recorded source when
    ``definition`` is None); ``WeftError`` or the live holder's refusal otherwise.
    ``resumer`` names the function, for the hint to pass ``definition=``."""
    run = store.get_run(run_id)
    if run.state is RunState.SUCCEEDED:
        raise WeftError(f"run {run.run_id} already succeeded; nothing to resume")
    holder = store.live_lease(run.run_id)
    if holder is not None:  # before loading anything; acquiring the lease decides
        raise holder.refusal()
    if definition is None:
        if run.source is None and is_ask(store, run.run_id):
            raise WeftError(
                f"run {run.run_id} is an ask, made from a plan: resume it with "
                f"weft resume {run.run_id}, or Orchestrator.resume in Python"
            )
        if run.source is None:
            raise WeftError(
                f"run {run.run_id} was started from Python code; "
                f"pass the workflow to {resumer}(definition=...)"
            )
        definition = run.source
    return run, definition


def is_ask(store: Journal, run_id: str) -> bool:
    """Whether ``run_id`` is an orchestrator's ask, its plan journaled (``ASK_EVENT_KEY``)."""
    return any(
        event.kind is EventKind.PROGRESS and event.key == ASK_EVENT_KEY
        for event in store.events(run_id)
    )


def check_same_graph(prepared: PreparedWorkflow, run: RunRecord, *, force: bool) -> None:
    """``ResumeMismatchError`` when the workflow's graph changed since ``run`` started,
    unless ``force``: resuming would mix two graphs."""
    if prepared.graph_hash != run.graph_hash and not force:
        raise ResumeMismatchError(
            f"workflow '{prepared.name}' changed since run {run.run_id} started "
            f"(graph hash {run.graph_hash} -> {prepared.graph_hash}); "
            "resuming would mix two graphs (use --force to resume anyway)"
        )


def take_run(
    store: Journal,
    run: RunRecord,
    answers: Mapping[str, Any] | None,
    on_takeover: Callable[[Lease], None] | None,
) -> tuple[Lease, dict[str, list[Any]]]:
    """Take ``run``'s lease and journal ``answers``; the lease, and every answer the run
    was given so far by execution key. The answers are checked before the lease is taken
    (``engine.answers``), so an answer that cannot be taken changes nothing."""
    matched = checked_answers(store, run.run_id, answers or {})
    lease, previous = store.acquire_lease(run.run_id)
    if previous is not None and on_takeover is not None:
        on_takeover(previous)
    record_answers(store, run.run_id, matched)
    return lease, store.answers(run.run_id)
