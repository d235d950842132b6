"""The front door of the runtime: run a workflow, resume a run, find the journal.

The Python API journals nothing unless asked (like an in-memory checkpointer);
the CLI always journals, to ``.weft/journal.db`` under the current folder or
under ``$WEFT_HOME`` when set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from weft.protocols import ResumeMismatchError, RunState, WeftError, WorkflowSpec
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.compiler import Actions, compile_workflow
from weft.runtime.engine.executor import Executor, Listener
from weft.runtime.engine.inputs import resolve_inputs
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.lease import Lease
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.support.home import default_journal_path
from weft.runtime.support.redaction import register_sensitive
from weft.runtime.tracing.spans import Tracer
from weft.workflows import Workflow

Definition = WorkflowSpec | Workflow | PreparedWorkflow | str | Path


def _journal(journal: Journal | str | Path | bool | None) -> Journal | None:
    if journal is None or journal is False:
        return None
    if journal is True:
        return Journal(default_journal_path())
    if isinstance(journal, Journal):
        return journal
    return Journal(journal)


def _prepared(definition: Definition, actions: Actions) -> PreparedWorkflow:
    if isinstance(definition, PreparedWorkflow):
        return definition
    return compile_workflow(definition, actions)


async def run_workflow(
    definition: Definition,
    inputs: dict[str, Any] | None = None,
    *,
    actions: Actions = None,
    journal: Journal | str | Path | bool | None = None,
    run_id: str | None = None,
    listeners: Sequence[Listener] = (),
    concurrency: int | None = None,
    inputs_from_text: bool = False,
    tracer: Tracer | None = None,
) -> RunResult:
    """Validate, compile and run a workflow; return its result (never raises for a failed node).

    ``definition`` is a builder ``Workflow``, a ``WorkflowSpec``, or the path of a
    YAML file or of a Python file defining ``workflow``. ``actions`` adds or
    overrides actions by name. ``journal=True`` uses the default journal.
    ``tracer`` receives every span (e.g. a ``TraceStore``); the caller closes it.
    Raises ``DefinitionError`` or ``InputError`` before anything runs.
    """
    prepared = _prepared(definition, actions)
    resolved = resolve_inputs(prepared.spec, inputs, from_text=inputs_from_text)
    register_sensitive(resolved)
    store = _journal(journal)
    executor = Executor(journal=store, listeners=listeners, concurrency=concurrency, tracer=tracer)
    return await executor.run(prepared, resolved, run_id=run_id)


async def resume_run(
    run_id: str,
    *,
    journal: Journal | str | Path | bool = True,
    definition: Definition | None = None,
    actions: Actions = None,
    listeners: Sequence[Listener] = (),
    concurrency: int | None = None,
    force: bool = False,
    tracer: Tracer | None = None,
    on_takeover: Callable[[Lease], None] | None = None,
) -> RunResult:
    """Finish a run that stopped (crash, kill, failure, cancel) without repeating finished calls.

    The workflow is reloaded from the file the run started from unless
    ``definition`` is given. If its graph hash differs from the journaled one,
    ``ResumeMismatchError`` is raised unless ``force`` is set. ``tracer`` is as
    for ``run_workflow``; the resumed run's spans join the run's earlier ones.

    A run still running in another process (its lease is alive) is refused
    with ``RunInProgressError`` naming that process, so no call runs twice. A
    run left running by a process that died is taken over: ``on_takeover``
    gets the dead holder's lease (``Lease.expiry_reason()`` says why it expired).
    """
    store = _journal(journal)
    assert store is not None
    record = store.get_run(run_id)
    if record.state is RunState.SUCCEEDED:
        raise WeftError(f"run {record.run_id} already succeeded; nothing to resume")
    holder = store.live_lease(record.run_id)
    if holder is not None:  # before loading anything; acquire_lease below decides
        raise holder.refusal()
    if definition is None:
        if record.source is None:
            raise WeftError(
                f"run {record.run_id} was started from Python code; "
                "pass the workflow to resume_run(definition=...)"
            )
        definition = record.source
    prepared = _prepared(definition, actions)
    if prepared.graph_hash != record.graph_hash and not force:
        raise ResumeMismatchError(
            f"workflow '{prepared.name}' changed since run {record.run_id} started "
            f"(graph hash {record.graph_hash} -> {prepared.graph_hash}); "
            "resuming would mix two graphs (use --force to resume anyway)"
        )
    lease, previous = store.acquire_lease(record.run_id)
    if previous is not None and on_takeover is not None:
        on_takeover(previous)
    # Read what finished only now: no other process can add to it any more.
    cache = store.completed_calls(record.run_id)
    register_sensitive(record.inputs)
    executor = Executor(journal=store, listeners=listeners, concurrency=concurrency, tracer=tracer)
    return await executor.run(
        prepared, record.inputs, run_id=record.run_id, cache=cache, resumed=True, lease=lease
    )


def run_sync(
    definition: Definition, inputs: dict[str, Any] | None = None, **options: Any
) -> RunResult:
    """``run_workflow`` for code that is not async (scripts, notebooks without a loop)."""
    import asyncio

    return asyncio.run(run_workflow(definition, inputs, **options))
