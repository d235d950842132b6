"""A weft workflow compiled to a LangGraph ``StateGraph``, and run on LangGraph's engine.

``weft run --engine langgraph`` exists so a user can check that weft's graph
means the same on LangGraph, and hand a workflow to a LangGraph shop. The
graph keeps weft's meaning by reusing weft's own pure decisions: each node's
join is weft's ``Slot``, its arguments weft's ``node_arguments``, its
conditions and outputs the compiled expressions. What maps to what:

- the state is ``inputs`` (the run's resolved inputs), ``outputs`` (artifact by
  node), ``states`` (``succeeded | failed | skipped | upstream_failed`` by node),
  ``errors``, and the bookkeeping of ``langgraph_flow``: what critic edges
  delivered, how often each node ran, each loop's passes; every key but
  ``inputs`` merges the writes of parallel nodes;
- a node is a LangGraph node whose call is weft's own ``NodeCalls``
  (``langgraph_nodes``): its arguments, limits, timeout, retries, journal
  events, span and resume cache are weft's engine's. It ends with a ``Command`` whose ``goto`` pokes
  the nodes its edges lead to; a poked node asks weft's join whether it can
  run, must be skipped, or waits for another poke. So ``join: all``, ``any``
  and quorums keep weft's meaning: an ``any`` node starts on the first inputs
  to arrive and later pokes find it started (LangGraph's waiting edges could
  only express ``all``);
- ``when`` on an edge is decided by the node it leads to, from the source's
  output: a skipped branch resolves its edges, so a join below it is not left
  waiting;
- a critic on an edge is a node ``source->target`` between the two: it calls
  the critic, and for each send-back (``max_rounds``) the source's action again
  with the feedback (weft's ``critics.review_edge``); the target reads what the edge
  delivered. The source's own output is unchanged, as on weft's engine;
- a loop edge (``max_iterations``) is a ``goto`` from its source back to its
  target: the pass is counted in the state and the body's states are reset,
  so its nodes run again and ``${iteration}`` counts up;
- ``foreach`` is ``Send``: node ``n.foreach`` renders the items and sends one
  ``n.item`` task each, in one superstep; node ``n`` gathers them in order;
- ``concurrency``, ``action_concurrency`` and a foreach's ``concurrency`` are
  the semaphores weft's engine holds around a call (``NodeCalls``);
- ``on_failure: fail_fast`` stops the graph at the first failure (an exception
  out of the node), ``continue`` records it and skips what depended on it.

Refused, with the node and the reason (``DefinitionError``, ``check_langgraph``):
a capability node, whose agent weft's router picks when it starts.

A run is recorded as weft's engine records one (``run_langgraph`` takes
``run_workflow``'s ``journal``, ``tracer`` and ``record``): journaled with its
graph hash and every finished call under weft's execution keys, so ``weft
runs`` lists it and ``weft resume RUN`` finishes it on weft's engine
(``resume_langgraph`` on LangGraph's) without repeating a finished call; traced
with a run span, a node span per node execution, critic and revision spans
(``langgraph_recording`` for the run), so ``weft trace show|view`` draw it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from weft.protocols import JournalMode, RunState, Usage, WeftError, new_id
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.compiler import Actions, compile_workflow_async
from weft.runtime.engine.executor import Executor
from weft.runtime.engine.inputs import resolve_inputs
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.langgraph_nodes import (
    GraphNodes,
    GraphRun,
    Listener,
    NodeFailed,
    build_graph,
    check_langgraph,
    execute,
)
from weft.runtime.engine.langgraph_recording import RunRecording
from weft.runtime.engine.lease import Lease
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.engine.recording import JournalOption, TracerOption, recording
from weft.runtime.engine.resume_checks import check_same_graph, run_to_resume, take_run
from weft.runtime.engine.secret_flow import register_run
from weft.runtime.tracing.spans import Tracer

__all__ = [
    "NodeFailed",
    "check_langgraph",
    "langgraph_usable",
    "resume_langgraph",
    "run_langgraph",
    "run_on_langgraph",
    "to_langgraph",
]


def to_langgraph(
    prepared: PreparedWorkflow,
    run_id: str = "langgraph",
    listeners: Sequence[Listener] = (),
    *,
    prefix: str = "",
) -> Any:
    """The ``StateGraph`` (not yet compiled) that runs ``prepared`` on LangGraph.

    Raises ``DefinitionError`` for what LangGraph cannot express (``check_langgraph``)
    and ``ImportError`` naming the extra when ``langgraph`` is not installed.
    ``listeners`` get the critics' review and the loops' iteration events;
    ``prefix`` names the nodes of a sub-workflow in them (``{parent key}/``).
    The graph so made records nothing: ``run_on_langgraph`` journals and traces.
    """
    run = GraphRun(Executor(listeners=listeners), run_id)
    return build_graph(prepared, GraphNodes(prepared, run, prefix, None))


async def run_on_langgraph(
    prepared: PreparedWorkflow,
    inputs: dict[str, Any],
    *,
    run_id: str | None = None,
    listeners: Sequence[Listener] = (),
    journal: Journal | None = None,
    tracer: Tracer | None = None,
    concurrency: int | None = None,
    journal_mode: JournalMode | str | None = None,
    cache: dict[str, Any] | None = None,
    resumed: bool = False,
    lease: Lease | None = None,
    answers: dict[str, list[Any]] | None = None,
    resume_states: dict[str, dict[str, Any]] | None = None,
) -> RunResult:
    """Run ``prepared`` with resolved ``inputs`` on LangGraph; the result weft's engine gives.

    Never raises for a failed node (the result says so). With a ``journal`` the
    run and each call are journaled as weft's engine journals them (so ``weft
    runs`` lists it and ``weft resume`` finishes it); with a ``tracer`` it leaves
    the spans weft's engine leaves. ``cache``, ``resumed``, ``lease``,
    ``answers`` and ``resume_states`` are ``resume_langgraph``'s; ``concurrency``
    and ``journal_mode`` are as for ``Executor`` and ``run_workflow``.
    """
    run_id = run_id or new_id()
    register_run(inputs, prepared.secret_inputs, prepared.secret_literals)
    executor = Executor(
        journal=journal, listeners=listeners, concurrency=concurrency, tracer=tracer
    )
    mode = JournalMode(journal_mode or prepared.spec.journal)
    durable = journal if mode is JournalMode.DURABLE else None
    if durable is not None:
        durable.hold_durable(run_id)
    try:
        recording = RunRecording(executor, prepared, inputs, run_id, resumed, lease)
        run = GraphRun(executor, run_id, cache or {}, answers or {}, resume_states or {})
        return await _recorded(recording, run)
    finally:
        if durable is not None:
            durable.release_durable(run_id)


async def _recorded(recording: RunRecording, run: GraphRun) -> RunResult:
    """``_execute`` the run between its opening and its closing records."""
    recording.open()
    try:
        try:
            result = await execute(recording.prepared, recording.inputs, run, "", recording.span_id)
        finally:
            await recording.stop()
    except asyncio.CancelledError:
        no_usage = Usage()
        if recording.lost:
            recording.trace(RunState.CANCELLED, None, None, no_usage)
            journal = recording.executor.journal
            holder = journal.lease(run.run_id) if journal is not None else None
            assert recording.keeper is not None
            raise recording.keeper.taken_over(holder) from None
        recording.close(RunState.CANCELLED, None, "cancelled", no_usage)
        raise
    except BaseException:
        recording.release()
        raise
    result.started_at = recording.started
    recording.close(result.state, result.outputs, result.error, result.usage)
    return result


async def run_langgraph(
    definition: Any,
    inputs: dict[str, Any] | None = None,
    *,
    actions: Actions = None,
    run_id: str | None = None,
    inputs_from_text: bool = False,
    listeners: Sequence[Listener] = (),
    journal: JournalOption = None,
    tracer: TracerOption = None,
    record: bool | None = None,
    concurrency: int | None = None,
    journal_mode: JournalMode | str | None = None,
) -> RunResult:
    """``run_workflow``'s front door on LangGraph's engine (``weft run --engine langgraph``).

    Recorded as ``run_workflow`` records a run (``journal``, ``tracer`` and
    ``record`` mean the same; ``recording.py``): journaled, so ``weft runs``
    lists it and ``weft resume`` finishes it, and traced, so ``weft trace show``
    and ``view`` draw it. Raises ``DefinitionError`` (also for what LangGraph
    cannot express) or ``InputError`` before anything runs, ``StorageError``
    for a store that cannot be used, and ``WeftError`` when ``langgraph`` is not
    installed.
    """
    prepared = await compile_workflow_async(definition, actions)
    resolved = resolve_inputs(prepared.spec, inputs, from_text=inputs_from_text)
    langgraph_usable(prepared)
    with recording(journal, tracer, record) as (store, spans):
        return await run_on_langgraph(
            prepared,
            resolved,
            run_id=run_id,
            listeners=listeners,
            journal=store,
            tracer=spans,
            concurrency=concurrency,
            journal_mode=journal_mode,
        )


async def resume_langgraph(
    run_id: str,
    *,
    journal: Journal | str | Path | bool = True,
    definition: Any = None,
    actions: Actions = None,
    listeners: Sequence[Listener] = (),
    concurrency: int | None = None,
    force: bool = False,
    tracer: TracerOption = None,
    record: bool | None = None,
    journal_mode: JournalMode | str | None = None,
    on_takeover: Callable[[Lease], None] | None = None,
    answers: Mapping[str, Any] | None = None,
) -> RunResult:
    """``resume_run`` on LangGraph's engine: finish a stopped run (started on either
    engine) without repeating the calls its journal says finished.

    The checks are ``resume_run``'s: ``WeftError`` for a run that succeeded or
    was started from Python without ``definition``, ``ResumeMismatchError`` for
    a changed graph unless ``force``, ``RunInProgressError`` while another
    process holds the run; ``on_takeover`` gets the lease of a dead holder, as there.
    """
    if journal is False:
        raise WeftError("resume_langgraph needs the journal the run is in (journal=True)")
    with recording(journal, tracer, record) as (store, spans):
        assert store is not None
        run, definition = run_to_resume(store, run_id, definition, resumer="resume_langgraph")
        prepared = await compile_workflow_async(definition, actions)
        check_same_graph(prepared, run, force=force)
        langgraph_usable(prepared)
        lease, given = take_run(store, run, answers, on_takeover)
        return await run_on_langgraph(
            prepared,
            run.inputs,
            run_id=run.run_id,
            listeners=listeners,
            journal=store,
            tracer=spans,
            concurrency=concurrency,
            journal_mode=journal_mode,
            cache=store.completed_calls(run.run_id),
            answers=given,
            resume_states=store.resume_states(run.run_id),
            resumed=True,
            lease=lease,
        )


def langgraph_usable(prepared: PreparedWorkflow) -> None:
    """``check_langgraph``, and ``WeftError`` when ``langgraph`` is not installed: both
    before anything is journaled (``Orchestrator.resume`` checks a resumed ask so too)."""
    check_langgraph(prepared)
    try:
        import langgraph.graph  # noqa: F401
    except ImportError:
        raise WeftError(
            "--engine langgraph needs the 'langgraph' package: pip install 'weft[langgraph]'"
        ) from None
