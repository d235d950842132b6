"""The front door of the runtime: run a workflow, resume a run.

A run made here is recorded as ``weft run`` records one: journaled to
``$WEFT_HOME/journal.db`` and traced to ``$WEFT_HOME/traces.db``, so ``weft
runs``, ``weft trace show last`` and ``weft resume`` work on it. ``record=False``
or ``WEFT_RECORD=0`` turns that off; ``recording.py`` says which stores a run
gets and how they are shared between runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from weft.protocols import (
    Action,
    JournalMode,
    Router,
    WeftError,
    WorkflowSpec,
)
from weft.runtime.engine.capability import CapabilityResolver, bind_resolver
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.compiler import Actions, compile_workflow_async
from weft.runtime.engine.executor import Executor, Listener
from weft.runtime.engine.inputs import resolve_inputs
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.lease import Lease
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.engine.recording import JournalOption, TracerOption, recording
from weft.runtime.engine.resume_checks import check_same_graph, run_to_resume, take_run
from weft.workflows import Workflow

#: What a run is made from: a workflow (built, a spec, compiled, or a file), or one
#: action (an agent, a ``@tool``, a plain function) run as a one-node workflow.
WorkflowDefinition = WorkflowSpec | Workflow | PreparedWorkflow | str | Path
Definition = WorkflowDefinition | Action | Callable[..., Any]


def _one_action(definition: Definition, inputs: Mapping[str, Any] | None) -> WorkflowDefinition:
    """A workflow of one node calling ``definition`` when it is an action or a function,
    with the inputs given as its arguments (so ``run_sync(agent, {"task": ...})`` reads
    like the OpenAI Agents SDK's ``Runner.run_sync(agent, ...)``); anything else as it is.

    The node and the workflow take the action's name, and each input becomes a required
    workflow input passed on as the argument of that name: a resume rebuilds the same
    graph from the run's journaled inputs (``resume_run(run_id, definition=agent)``).
    """
    if isinstance(definition, WorkflowSpec | Workflow | PreparedWorkflow | str | Path):
        return definition
    is_action = hasattr(definition, "spec") and callable(getattr(definition, "invoke", None))
    if not is_action and not callable(definition):
        return cast(WorkflowDefinition, definition)  # compiling it reports what it is
    name = (
        cast(Action, definition).spec.name
        if is_action
        else str(getattr(definition, "__name__", "action"))
    )
    workflow = Workflow(name)
    given = dict(inputs or {})
    for key in given:
        workflow.input(key, required=True)
    workflow.node(name, definition, with_={key: "${inputs." + key + "}" for key in given})
    return workflow


async def _prepared(definition: WorkflowDefinition, actions: Actions) -> PreparedWorkflow:
    """The compiled workflow; its MCP servers and A2A agents are discovered without
    blocking the caller's loop (``compile_workflow_async``)."""
    if isinstance(definition, PreparedWorkflow):
        return definition
    return await compile_workflow_async(definition, actions)


async def run_workflow(
    definition: Definition,
    inputs: dict[str, Any] | None = None,
    *,
    actions: Actions = None,
    journal: JournalOption = None,
    run_id: str | None = None,
    listeners: Sequence[Listener] = (),
    concurrency: int | None = None,
    inputs_from_text: bool = False,
    tracer: TracerOption = None,
    record: bool | None = None,
    journal_mode: JournalMode | str | None = None,
    router: Router | None = None,
    resolver: CapabilityResolver | None = None,
) -> RunResult:
    """Validate, compile and run a workflow; return its result (never raises for a failed node).

    ``definition`` is a builder ``Workflow``, a ``WorkflowSpec``, or the path of a
    YAML file or of a Python file defining ``workflow``; or one action (an
    ``LLMAgent``, a ``@tool``, a plain function), run as a workflow of one node
    named after it, with ``inputs`` as its arguments: ``result.outputs[name]`` is
    its output. ``actions`` adds or overrides actions by name.

    The run is recorded as ``weft run`` records one: journaled to
    ``$WEFT_HOME/journal.db`` (resumable, listed by ``weft runs``) and traced
    to ``$WEFT_HOME/traces.db`` (``weft trace show last``). ``record=False``,
    or ``WEFT_RECORD=0`` in the environment, records nothing; ``journal=False``
    or ``tracer=False`` leaves out one. ``journal`` may be another file's path;
    a ``Journal`` or ``Tracer`` object (e.g. a ``MemoryTracer``) is used
    whatever ``record`` says, and the caller closes it. The files weft opens
    itself stay open for the next run (``recording.py``).

    ``journal_mode="durable"`` overrides the workflow's ``journal`` setting: each
    finished call is committed to disk before what depends on it starts, so a
    resume after a crash repeats none (``"batched"``, the default, may repeat
    those of the last few milliseconds, and is faster).

    Capability nodes (``capability:`` instead of ``action:``) are resolved when
    they start by ``router`` (any ``weft.protocols.Router``, e.g. a
    ``CapabilityRouter``; it chooses among the run's actions, critics left
    out) or by a ``resolver`` of your own (``engine.capability``).

    Compiling a definition lists its ``mcp:`` servers and reads its ``a2a:
    mqtt://`` agents' cards concurrently, awaiting them: the event loop (other
    runs, a server) runs on meanwhile.

    Raises ``DefinitionError`` or ``InputError`` before anything runs (a
    capability node without a router is one), and ``StorageError`` when a
    file to record in cannot be used.
    """
    definition = _one_action(definition, inputs)
    prepared = bind_resolver(await _prepared(definition, actions), resolver, router=router)
    resolved = resolve_inputs(prepared.spec, inputs, from_text=inputs_from_text)
    with recording(journal, tracer, record) as (store, spans):
        executor = Executor(
            journal=store, listeners=listeners, concurrency=concurrency, tracer=spans
        )
        return await executor.run(prepared, resolved, run_id=run_id, journal_mode=journal_mode)


async def resume_run(
    run_id: str,
    *,
    journal: Journal | str | Path | bool = True,
    definition: Definition | None = None,
    actions: Actions = None,
    listeners: Sequence[Listener] = (),
    concurrency: int | None = None,
    force: bool = False,
    tracer: TracerOption = None,
    record: bool | None = None,
    on_takeover: Callable[[Lease], None] | None = None,
    journal_mode: JournalMode | str | None = None,
    router: Router | None = None,
    resolver: CapabilityResolver | None = None,
    answers: Mapping[str, Any] | None = None,
) -> RunResult:
    """Finish a run that stopped (crash, kill, failure, cancel) without repeating finished calls.

    The workflow is reloaded from the file the run started from unless
    ``definition`` is given. If its graph hash differs from the journaled one,
    ``ResumeMismatchError`` is raised unless ``force`` is set. ``journal`` is
    the run's journal (``True``: the default one) and cannot be left out;
    ``tracer`` and ``record`` are as for ``run_workflow``, and the resumed
    run's spans join the run's earlier ones.

    A run still running in another process (its lease is alive) is refused
    with ``RunInProgressError`` naming that process, so no call runs twice. A
    run left running by a process that died is taken over: ``on_takeover``
    gets the dead holder's lease (``Lease.expiry_reason()`` says why it expired).
    ``journal_mode``, ``router`` and ``resolver`` are as for ``run_workflow``.

    ``answers`` answer the questions a run that ended ``needs_input`` asked
    (``ActionContext.ask``), by node name or execution key (``fx[2]``,
    ``sub/approve``): each is checked against its question (``WeftError``
    before anything runs when one cannot be taken), journaled, and given to
    the node when it is called again, with the state it saved when it asked
    (``ActionResult.resume_state``), so it goes on where it stopped.
    """
    if journal is False:
        raise WeftError("resume_run needs the journal the run is in (journal=True: the default)")
    with recording(journal, tracer, record) as (store, spans):
        assert store is not None
        run, definition = run_to_resume(store, run_id, definition, resumer="resume_run")
        definition = _one_action(definition, run.inputs)
        prepared = bind_resolver(await _prepared(definition, actions), resolver, router=router)
        check_same_graph(prepared, run, force=force)
        lease, given = take_run(store, run, answers, on_takeover)
        # Read what finished only now: no other process can add to it any more.
        cache = store.completed_calls(run.run_id)
        executor = Executor(
            journal=store, listeners=listeners, concurrency=concurrency, tracer=spans
        )
        return await executor.run(
            prepared,
            run.inputs,
            run_id=run.run_id,
            cache=cache,
            answers=given,
            resume_states=store.resume_states(run.run_id),
            resumed=True,
            lease=lease,
            journal_mode=journal_mode,
        )


def run_sync(
    definition: Definition, inputs: dict[str, Any] | None = None, **options: Any
) -> RunResult:
    """``run_workflow`` for code that is not async (scripts, notebooks without a loop).

    Takes ``run_workflow``'s options, and records the run the same way. Ctrl-C
    (``KeyboardInterrupt``) cancels the run: it is journaled as cancelled, its
    lease given back, so it can be resumed at once (``weft resume RUN`` for a
    workflow file, ``resume_run(RUN, definition=...)`` for one built in Python).
    """
    import asyncio

    return asyncio.run(run_workflow(definition, inputs, **options))
