"""Calling a node's action: arguments, foreach, limits, timeout, retries, events, spans.

``NodeCalls`` runs the nodes of one execution; ``scheduler.Execution``
decides *when*. A node's run reads, top to bottom, one concern per step:

``run`` (the node: a broken edge, a journaled result, its arguments, its
foreach) → ``call`` (the concurrency limits) → ``_with_retries`` (attempts
and backoff) → ``_attempt`` (one call: its context, its timeout, an exception
turned into a result). Every failure an action can cause becomes a result;
only ``CancelledError`` propagates.

It is also the ``CallSite`` of the contexts it hands to actions: their child
calls are traced here, and a workflow called as an action runs through
``run_subworkflow``, which the execution provides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from weft.agents.thread_clock import running_clock
from weft.protocols import (
    ActionCall,
    ActionResult,
    ActionState,
    ErrorInfo,
    EventKind,
    NodeState,
    RunEvent,
    Usage,
)
from weft.protocols.actions import NO_USAGE
from weft.protocols.results import json_result
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.arguments import ForeachPlan, item_arguments, node_arguments
from weft.runtime.engine.call_limits import call_limits
from weft.runtime.engine.compiled import CompiledNode, PreparedWorkflow
from weft.runtime.engine.execution_context import (
    UNUSED_CONTEXT,
    ExecutionContext,
    UnusedContext,
)
from weft.runtime.engine.node_spans import call_span, node_row
from weft.runtime.engine.outcomes import NodeOutcome, RunResult, UsageTally
from weft.runtime.engine.resume_states import RESUME_STATE, journaled_state
from weft.runtime.engine.retry import should_retry
from weft.runtime.engine.secret_flow import register_output
from weft.runtime.engine.services import ExecutorServices
from weft.runtime.engine.slots import Slot
from weft.runtime.support import logging as logs
from weft.runtime.support.redaction import redactor
from weft.runtime.tracing.spans import NodeGroup, new_span_id
from weft.workflows.expressions import ExpressionError
from weft.workflows.reducers import ReducerError

STATE_OF_RESULT = {
    ActionState.OK: NodeState.SUCCEEDED,
    ActionState.ERROR: NodeState.FAILED,
    ActionState.TIMEOUT: NodeState.FAILED,
    ActionState.CANCELLED: NodeState.CANCELLED,
    ActionState.NEEDS_INPUT: NodeState.NEEDS_INPUT,
}


class ChildRunner(Protocol):
    """Runs a sub-workflow inside the current run (``scheduler.Execution.run_child``)."""

    def __call__(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], *, prefix: str, parent_id: str
    ) -> Awaitable[RunResult]: ...


class Attempted:
    """How a call ended: its last result, how many attempts it took, and when it started."""

    __slots__ = ("attempts", "result", "started")

    def __init__(self, result: ActionResult, attempts: int, started: float) -> None:
        self.result = result
        self.attempts = attempts
        self.started = started


class NodeCalls:
    """Calls the actions of one execution's nodes (and its critics) under its limits."""

    def __init__(
        self,
        services: ExecutorServices,
        workflow: PreparedWorkflow,
        inputs: dict[str, Any],
        *,
        run_id: str,
        trace_id: str,
        parent_id: str | None,
        prefix: str,
        cache: dict[str, Any],
        tally: UsageTally,
        run_child: ChildRunner,
        answers: Mapping[str, list[Any]] | None = None,
        resume_states: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self.services = services
        self.tracer = services.tracer
        #: Read once per execution: a listener added mid-run sees the next run.
        self.quiet = services.quiet
        self.workflow = workflow
        self.inputs = inputs
        self.run_id = run_id
        self.trace_id = trace_id
        self.parent_id = parent_id
        self.prefix = prefix
        #: Outputs of calls a resumed run already finished, by execution key.
        self.cache = cache
        #: A person's answers to the questions calls asked before, by execution key.
        self.answers = answers or {}
        #: What the calls that stopped for a question saved to go on from, by execution key.
        self.resume_states = resume_states or {}
        self.tally = tally
        self._run_child = run_child
        self.node_group = None if self.tracer is None else NodeGroup(run_id, trace_id, parent_id)
        self.limits = call_limits(services, workflow)
        self._id_prefix = new_span_id()[:8]
        self._call_counter = 0
        #: Bound once: it runs before every call (``call``).
        self._register_arguments = redactor().register_arguments
        #: Durable runs: awaited after each finished call, before its dependents may start.
        self._committed = services.durable_commit(run_id)

    # -- the call site of the contexts handed to actions ---------------------------

    @property
    def registry(self) -> ActionTable:
        return self.workflow.registry

    def emit(self, event: RunEvent) -> None:
        self.services.emit(event)

    async def run_subworkflow(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], *, prefix: str, parent_id: str
    ) -> RunResult:
        return await self._run_child(workflow, inputs, prefix=prefix, parent_id=parent_id)

    def trace_call(
        self,
        call: ActionCall,
        result: ActionResult,
        started: float,
        *,
        kind: str,
        delay: float | None = None,
    ) -> None:
        if self.tracer is not None:
            span = call_span(
                call,
                result,
                started,
                kind=kind,
                run_id=self.run_id,
                trace_id=self.trace_id,
                delay=delay,
            )
            self.tracer.record(span)

    def next_call_id(self) -> str:
        """A 16-hex call (span) id: a random half per execution, a counter half per call.

        Unique within the trace and unpredictable across runs, at the cost of an
        integer increment instead of a call to the OS random source per call.
        """
        self._call_counter += 1
        return f"{self._id_prefix}{self._call_counter:08x}"

    # -- one node -------------------------------------------------------------------

    def begin(self, slot: Slot) -> NodeOutcome:
        """The record of a new run of ``slot``'s node: its key, and its span id when traced."""
        outcome = NodeOutcome(slot.node.name, slot.next_key(self.prefix), NodeState.RUNNING)
        if self.tracer is not None:
            outcome.span_id = self.next_call_id()
        return outcome

    async def run(
        self, slot: Slot, outcome: NodeOutcome, edge_error: str | ErrorInfo | None
    ) -> None:
        """Run the node and fill in ``outcome``; its events and span are recorded.

        Only ``CancelledError`` propagates: any other exception here is a bug
        in weft or a reducer, and fails the node.
        """
        node = slot.node
        try:
            arguments = self._arguments(slot, outcome, edge_error)
            if isinstance(arguments, ForeachPlan):
                await self._run_foreach(node, arguments, outcome)
            elif arguments is not None:
                outcome.arguments = arguments
                # kept if the call is cancelled: a node cancelled after minutes shows minutes
                outcome.started_at = started = time.time()  # and the call's start (``call``)
                attempted = await self.call(node, outcome.key, arguments, outcome.span_id, started)
                result = attempted.result
                outcome.attempts = attempted.attempts
                outcome.started_at = attempted.started
                outcome.state = STATE_OF_RESULT[result.state]
                outcome.output = result.output
                outcome.error = result.error
                outcome.usage = result.usage
                outcome.agent = result.agent
                outcome.finished_at = time.time()
        except asyncio.CancelledError:
            outcome.state = NodeState.CANCELLED
            outcome.finished_at = time.time()
            self.event(EventKind.NODE_FINISHED, node, outcome.key, NodeState.CANCELLED, outcome)
            raise
        except Exception as exc:
            outcome.finished_at = time.time()
            source = f"node '{self.prefix}{node.name}'"
            self._fail(node, outcome, error=ErrorInfo.from_exception(exc, source=source))
        finally:
            if self.tracer is not None:
                self._trace_node(node, outcome)

    def _arguments(
        self, slot: Slot, outcome: NodeOutcome, edge_error: str | ErrorInfo | None
    ) -> dict[str, Any] | ForeachPlan | None:
        """What the node's call takes, or None when ``outcome`` is decided without a call.

        A broken edge into the node (``edge_error``) or a reference that does
        not resolve fails it; a call journaled by an earlier run is served
        from the cache.
        """
        node = slot.node
        if isinstance(edge_error, ErrorInfo):  # an edge's critic asked a person: wait too
            outcome.state = NodeState.NEEDS_INPUT
            outcome.error = edge_error
            self.event(EventKind.NODE_FINISHED, node, outcome.key, outcome.state, outcome)
            return None
        if edge_error is not None:
            self._fail(node, outcome, "ConditionError", edge_error)
            return None
        if self.cache and outcome.key in self.cache:
            outcome.state = NodeState.SUCCEEDED
            outcome.output = self.cache[outcome.key]
            outcome.cached = True
            return None
        try:
            return node_arguments(slot, self.inputs)
        except (ExpressionError, ReducerError) as exc:
            kind = "ReducerError" if isinstance(exc, ReducerError) else "ReferenceError"
            outcome.started_at = outcome.finished_at = time.time()
            self._fail(node, outcome, kind, f"node '{node.name}': {exc}")
            return None

    def _fail(
        self,
        node: CompiledNode,
        outcome: NodeOutcome,
        error_type: str = "",
        message: str = "",
        *,
        error: ErrorInfo | None = None,
    ) -> None:
        """Fail the node without a call result (``error``, or one made of type and message)."""
        outcome.state = NodeState.FAILED
        outcome.error = error or ErrorInfo(type=error_type, message=message)
        self.event(EventKind.NODE_FINISHED, node, outcome.key, NodeState.FAILED, outcome)

    def _trace_node(self, node: CompiledNode, outcome: NodeOutcome) -> None:
        tracer, group = self.tracer, self.node_group
        if tracer is not None and group is not None:  # a group is made with the tracer
            tracer.record_node(group, node_row(node, outcome))

    # -- foreach --------------------------------------------------------------------

    async def _run_foreach(
        self, node: CompiledNode, plan: ForeachPlan, outcome: NodeOutcome
    ) -> None:
        """One call per item, at most ``concurrency`` at a time; the node fails if any item did."""
        started = time.time()
        count = len(plan.items)
        self.event(
            EventKind.NODE_STARTED, node, outcome.key, NodeState.RUNNING, outcome, items=count
        )
        limit = asyncio.Semaphore(node.spec.concurrency) if node.spec.concurrency else None
        results = await asyncio.gather(
            *(self._foreach_item(node, plan, i, outcome, limit) for i in range(count))
        )
        outcome.started_at = started
        outcome.finished_at = time.time()
        outcome.attempts = 1
        _sum_up_items(outcome, results)
        self.event(EventKind.NODE_FINISHED, node, outcome.key, outcome.state, outcome)

    async def _foreach_item(
        self,
        node: CompiledNode,
        plan: ForeachPlan,
        index: int,
        outcome: NodeOutcome,
        limit: asyncio.Semaphore | None,
    ) -> ActionResult:
        item_key = f"{outcome.key}[{index}]"
        if item_key in self.cache:
            return ActionResult.success(item_key, self.cache[item_key])
        try:
            arguments = item_arguments(node, plan, index)
        except ExpressionError as exc:
            return ActionResult.failure(
                item_key, "ReferenceError", f"node '{node.name}' item {index}: {exc}"
            )
        if limit is None:
            return (await self.call(node, item_key, arguments, outcome.span_id)).result
        async with limit:
            return (await self.call(node, item_key, arguments, outcome.span_id)).result

    # -- one call -------------------------------------------------------------------

    def call(
        self,
        node: CompiledNode,
        key: str,
        arguments: dict[str, Any],
        span: str | None = None,
        started: float | None = None,
    ) -> Awaitable[Attempted]:
        """Call the node's action, under the global, workflow and per-action limits if any.

        ``span`` is the node's span id when traced; ``started`` the ``time.time()``
        its node took just before (one clock read per node, not two; None: now).
        The awaitable never raises except ``CancelledError``: every failure is a
        result. The secret arguments are registered first, so that whatever the
        action echoes of them is masked in every record (the action itself gets
        them as they are). A node without ``with`` passes on upstream outputs,
        already registered where they feed a secret (``secret_flow``) and masked
        where they were recorded: only its top-level keys are looked at.
        """
        self._register_arguments(arguments, node.secret_params, deep=node.templated)
        if self.limits[node.action_name]:
            return self._limited(node, key, arguments, span, started)
        return self._with_retries(node, key, arguments, span, started)

    async def _limited(
        self,
        node: CompiledNode,
        key: str,
        arguments: dict[str, Any],
        span: str | None,
        started: float | None,
    ) -> Attempted:
        limits = self.limits[node.action_name]
        if started is None:  # waiting for a slot counts in the node's time
            started = time.time()
        for sem in limits:
            await sem.acquire()
        try:
            return await self._with_retries(node, key, arguments, span, started)
        finally:
            for sem in limits:
                sem.release()

    async def _with_retries(
        self,
        node: CompiledNode,
        key: str,
        arguments: dict[str, Any],
        span: str | None,
        started: float | None = None,
    ) -> Attempted:
        """Attempt the call until it succeeds or its retry policy gives up.

        A plain node's first attempt *is* the node's span (one span per node in
        the common case keeps tracing cheap); retries and foreach items get
        spans of their own, children of the node's.
        """
        if started is None:
            started = time.time()
        if not self.quiet:
            self.event(EventKind.NODE_STARTED, node, key, NodeState.RUNNING, None, attempt=1)
        traced = self.tracer is not None
        policy = node.retry
        attempt = 1
        spent = NO_USAGE  # by the attempts that failed, added to the last one's
        inner = 0  # attempts the action made itself beyond one per call (a remote fail-over)
        while True:
            is_node_span = attempt == 1 and span is not None and node.render_foreach is None
            call = self._make_call(node, key, arguments, attempt, span, is_node_span)
            call_started = started if is_node_span or not traced else time.time()
            result = await self._attempt(node, call)
            if result.attempts is not None:
                inner += result.attempts - 1
            if result.state is ActionState.OK or not should_retry(policy, result, attempt):
                if traced and not is_node_span:
                    self.trace_call(call, result, call_started, kind="call")
                break
            spent = spent.add(result.usage)
            delay = policy.delay(attempt)
            if is_node_span:  # the node's span goes on; this attempt becomes its child
                call = call.model_copy(update={"call_id": new_span_id(), "parent_id": span})
            self.trace_call(call, result, call_started, kind="call", delay=delay)
            if not self.quiet:
                self.event(
                    EventKind.NODE_RETRYING,
                    node,
                    key,
                    NodeState.RUNNING,
                    None,
                    attempt=attempt,
                    error=result.error,
                    delay=delay,
                )
            await asyncio.sleep(delay)
            attempt += 1
        if spent is not NO_USAGE:
            result.usage = result.usage.add(spent)
        attempt += inner
        if result.usage is not NO_USAGE or not self.quiet:
            self._call_finished(node, key, result, attempt, started)
            if self._committed is not None:
                await self._committed()
        return Attempted(result, attempt, started)

    def _make_call(
        self,
        node: CompiledNode,
        key: str,
        arguments: dict[str, Any],
        attempt: int,
        span: str | None,
        is_node_span: bool,
    ) -> ActionCall:
        timeout = node.timeout
        call = ActionCall(
            call_id=span if is_node_span and span is not None else self.next_call_id(),
            action=node.action_name,
            arguments=arguments,
            run_id=self.run_id,
            trace_id=self.trace_id,
            parent_id=self.parent_id if is_node_span else span or self.parent_id,
            node=key,
            attempt=attempt,
            deadline=time.time() + timeout if timeout else None,
        )
        if self.answers and key in self.answers:  # only a resumed run with answers pays
            call.answers = tuple(self.answers[key])
        if self.resume_states:
            call.resume_state = self.resume_states.get(key)
        return call

    async def _attempt(self, node: CompiledNode, call: ActionCall) -> ActionResult:
        """One call of the action, within the node's timeout; an exception becomes a result."""
        action = node.action
        ctx: ExecutionContext | UnusedContext = UNUSED_CONTEXT
        if node.uses_context:
            ctx = ExecutionContext(self, node, call.node or "", call)
        if logs.enabled:
            logs.bind_call(call)  # this node's own task: nothing to unbind
        deadline: asyncio.Timeout | None = None
        try:
            if node.timeout is None:
                result = await action.invoke(call, ctx)
            else:  # a ``def`` tool's counts from when a thread takes it (``thread_clock``)
                async with asyncio.timeout(node.timeout) as deadline:
                    with running_clock(deadline, node.timeout, action):
                        result = await action.invoke(call, ctx)
        except TimeoutError as exc:
            if deadline is not None and deadline.expired():
                result = _timed_out(node, call)
            else:  # the action's own TimeoutError (a socket, a client): it failed, retryably
                result = ActionResult.from_exception(call.call_id, exc, source=action.spec.name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = ActionResult.from_exception(call.call_id, exc, source=action.spec.name)
        if ctx.child_usage is not None:
            result.usage = result.usage.add(ctx.child_usage)
        # Results are JSON (weft.protocols.results), here as on an agent: same value or error.
        result = json_result(result, action.spec.name)
        if node.secret_outputs and result.output is not None:  # before anything records it
            # A foreach item's output is one element of what downstream paths read: all of it.
            paths = node.secret_outputs if node.render_foreach is None else ((),)
            register_output(result.output, paths)
        return result

    def _call_finished(
        self, node: CompiledNode, key: str, result: ActionResult, attempts: int, started: float
    ) -> None:
        if result.usage is not NO_USAGE:
            self.tally.add(result.usage)
        if self.quiet:
            return
        state = STATE_OF_RESULT[result.state]
        data: dict[str, Any] = {"started_at": started, "action": node.action_name}
        if result.agent is not None:  # served by an agent: the summary says which
            data["agent"] = result.agent
        if result.resume_state is not None and state is NodeState.NEEDS_INPUT:
            saved = journaled_state(result.resume_state, key)  # none that holds a secret
            if saved is not None:
                data[RESUME_STATE] = saved  # handed back on resume; not shown to listeners
        self.services.record(
            self.run_id,
            EventKind.NODE_FINISHED,
            self.prefix + node.name,
            key,
            state,
            attempts,
            result.output if state is NodeState.SUCCEEDED else None,
            result.error,
            result.usage,
            data,
        )

    # -- events ---------------------------------------------------------------------

    def event(
        self,
        kind: EventKind,
        node: CompiledNode,
        key: str,
        state: NodeState,
        outcome: NodeOutcome | None,
        *,
        attempt: int | None = None,
        error: ErrorInfo | None = None,
        **data: Any,
    ) -> None:
        """Record a node event; its attempt, output, error and usage default to ``outcome``'s."""
        if self.quiet:
            return
        self.services.record(
            self.run_id,
            kind,
            self.prefix + node.name,
            key,
            state,
            attempt if attempt is not None else (outcome.attempts if outcome else None),
            outcome.output if outcome and state is NodeState.SUCCEEDED else None,
            error or (outcome.error if outcome else None),
            outcome.usage if outcome and kind is EventKind.NODE_FINISHED else None,
            data,
        )


def _timed_out(node: CompiledNode, call: ActionCall) -> ActionResult:
    return ActionResult.failure(
        call.call_id,
        "Timeout",
        f"node '{node.name}': action '{node.action_name}' took longer than {node.timeout:g}s",
        state=ActionState.TIMEOUT,
        retryable=node.retry.retry_on_timeout,
    )


def _sum_up_items(outcome: NodeOutcome, results: list[ActionResult]) -> None:
    """A foreach node's state, output, error and usage from its items' results."""
    usage = Usage()
    for result in results:
        usage = usage.add(result.usage)
    outcome.usage = usage
    failed = [(i, r) for i, r in enumerate(results) if not r.ok]
    if not failed:
        outcome.state = NodeState.SUCCEEDED
        outcome.output = [r.output for r in results]
        return
    index, first = failed[0]
    message = first.error.message if first.error else first.state.value
    needs_input = all(r.state is ActionState.NEEDS_INPUT for _, r in failed)
    outcome.state = NodeState.NEEDS_INPUT if needs_input else NodeState.FAILED
    outcome.error = ErrorInfo(
        type=first.error.type if first.error else first.state.value,
        message=f"{len(failed)} of {len(results)} items "
        f"{'wait for an answer' if needs_input else 'failed'}; item {index}: {message}",
        retryable=False,
    )
