"""The dataflow executor: a node starts the moment its inputs are ready.

There is no superstep barrier: when a node finishes, its outgoing edges are
delivered at once and any successor whose join is satisfied starts in the
same event-loop turn. The makespan of a run is therefore its critical path,
whatever the shape of the graph.

Per node, the executor renders the arguments from the node's inputs, calls the
action under the global and per-action concurrency limits with a timeout,
retries retryable failures with backoff, and records every state change in
the journal. Failures follow the workflow's policy: ``fail_fast`` cancels
what is running; ``continue`` lets independent branches finish and marks the
nodes that depended on the failure as skipped (reason: upstream failed).

A run that is resumed gets the outputs of calls that already finished (by
execution key) and serves them from that cache instead of calling again;
because scheduling is a deterministic function of outputs, the resumed run
takes the same path and repeats no finished node.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import (
    Action,
    ActionCall,
    ActionError,
    ActionResult,
    ActionSpec,
    ActionState,
    EventKind,
    FailurePolicy,
    JoinMode,
    NodeState,
    RunEvent,
    RunState,
    Usage,
    new_id,
)
from weft.runtime.compiler import CompiledEdge, CompiledNode, PreparedWorkflow
from weft.runtime.journal import Journal
from weft.runtime.retry import backoff_delay, should_retry
from weft.runtime.tracing import SpanRecord, Tracer, new_span_id, trace_id_for
from weft.workflows.expressions import ExpressionError

Listener = Callable[[RunEvent], None]

_STATE_OF_RESULT = {
    ActionState.OK: NodeState.SUCCEEDED,
    ActionState.ERROR: NodeState.FAILED,
    ActionState.TIMEOUT: NodeState.FAILED,
    ActionState.CANCELLED: NodeState.CANCELLED,
    ActionState.NEEDS_INPUT: NodeState.NEEDS_INPUT,
}


_NO_USAGE = Usage()


class UsageTally:
    """Adds up usage with plain numbers; a pydantic model per addition is too slow here."""

    __slots__ = ("completion_tokens", "cost", "latency_s", "llm_calls", "prompt_tokens")

    def __init__(self) -> None:
        self.llm_calls = self.prompt_tokens = self.completion_tokens = 0
        self.cost = self.latency_s = 0.0

    def add(self, usage: Usage) -> None:
        self.llm_calls += usage.llm_calls
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost += usage.cost
        self.latency_s += usage.latency_s

    def total(self) -> Usage:
        return Usage(
            llm_calls=self.llm_calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost=self.cost,
            latency_s=self.latency_s,
        )


@dataclass
class NodeOutcome:
    """What became of one node (its latest execution, for nodes inside loops)."""

    name: str
    key: str
    state: NodeState
    output: Any = None
    error: ActionError | None = None
    attempts: int = 0
    usage: Usage = field(default_factory=lambda: _NO_USAGE)
    started_at: float | None = None
    finished_at: float | None = None
    cached: bool = False
    reason: str | None = None
    span_id: str | None = None
    arguments: dict[str, Any] | None = None


@dataclass
class RunResult:
    """The outcome of a run: its state, named outputs, and every node's outcome."""

    run_id: str
    workflow: str
    state: RunState
    outputs: dict[str, Any]
    nodes: dict[str, NodeOutcome]
    usage: Usage
    started_at: float
    finished_at: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.state is RunState.SUCCEEDED

    @property
    def duration(self) -> float:
        return self.finished_at - self.started_at

    def failed_nodes(self) -> list[NodeOutcome]:
        return [n for n in self.nodes.values() if n.state is NodeState.FAILED]


class ExecutionContext:
    """The ``ActionContext`` given to an action called by a workflow node."""

    __slots__ = ("_call", "child_usage", "execution", "key", "node")

    def __init__(
        self, execution: _Execution, node: CompiledNode, key: str, call: ActionCall
    ) -> None:
        self.execution = execution
        self.node = node
        self.key = key
        self._call = call
        self.child_usage: Usage | None = None

    @property
    def call(self) -> ActionCall:
        return self._call

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        """Call another action as a child of this call; never raises for its failure."""
        registry = self.execution.workflow.registry
        if action not in registry:
            return ActionResult.failure(
                new_id(), "UnknownAction", f"no action '{action}' is available to '{self.key}'"
            )
        target = registry.get(action)
        call = ActionCall(
            action=action,
            arguments=arguments,
            run_id=self._call.run_id,
            trace_id=self._call.trace_id,
            parent_id=self._call.call_id,
            node=self.key,
            deadline=self._call.deadline,
        )
        child = ExecutionContext(self.execution, self.node, f"{self.key}>{action}", call)
        started = time.time()
        try:
            result = await target.invoke(call, child)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = _crashed(call, target, exc)
        self.execution.trace_call(call, result, started, kind="call")
        spent = result.usage if child.child_usage is None else result.usage.add(child.child_usage)
        self.child_usage = spent if self.child_usage is None else self.child_usage.add(spent)
        return result

    def actions(self) -> list[ActionSpec]:
        return [a for name, a in self.execution.workflow.registry.specs().items()]

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        self.execution.executor.emit(
            RunEvent(
                run_id=self.execution.run_id,
                kind=EventKind.PROGRESS,
                at=time.time(),
                node=self.node.name,
                key=self.key,
                state=None,
                attempt=self._call.attempt,
                output=None,
                error=None,
                usage=None,
                data={"message": message, "fraction": fraction, **data},
            )
        )


def _crashed(call: ActionCall, action: Action, exc: BaseException) -> ActionResult:
    return ActionResult.failure(
        call.call_id,
        "ActionCrashed",
        f"action '{action.spec.name}' raised {type(exc).__name__} instead of returning a "
        f"result: {exc}",
    )


class Executor:
    """Runs prepared workflows. One executor may run many workflows concurrently.

    ``concurrency`` bounds the number of action calls in flight across all
    runs of this executor (None: unbounded); a workflow's own ``concurrency``
    and per-action limits apply on top.
    """

    def __init__(
        self,
        *,
        journal: Journal | None = None,
        listeners: Sequence[Listener] = (),
        concurrency: int | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.journal = journal
        self.tracer = tracer
        self.listeners = list(listeners)
        self._global_limit = asyncio.Semaphore(concurrency) if concurrency else None
        self._action_limits: dict[str, asyncio.Semaphore] = {}
        self._quiet = journal is None and not self.listeners

    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)
        self._quiet = False

    def emit(self, event: RunEvent) -> None:
        if self._quiet:
            return
        if self.journal is not None and event.kind is not EventKind.PROGRESS:
            self.journal.append(event)
        for listener in self.listeners:
            listener(event)

    def action_limit(self, name: str, limit: int | None) -> asyncio.Semaphore | None:
        if limit is None:
            return None
        sem = self._action_limits.get(name)
        if sem is None:
            sem = self._action_limits[name] = asyncio.Semaphore(limit)
        return sem

    async def run(
        self,
        workflow: PreparedWorkflow,
        inputs: dict[str, Any],
        *,
        run_id: str | None = None,
        cache: dict[str, Any] | None = None,
        resumed: bool = False,
    ) -> RunResult:
        """Run ``workflow`` with already-resolved ``inputs`` and return its result.

        Cancelling the task that awaits this cancels every node in flight, records
        them as cancelled, and re-raises ``CancelledError``.
        """
        run_id = run_id or new_id()
        started = time.time()
        if self.journal is not None and not resumed:
            self.journal.start_run(
                run_id, workflow.name, workflow.source, workflow.graph_hash, inputs
            )
        self.emit(
            RunEvent(
                run_id=run_id,
                kind=EventKind.RUN_RESUMED if resumed else EventKind.RUN_STARTED,
                at=started,
                node=None,
                key=None,
                state=RunState.RUNNING,
                attempt=None,
                output=None,
                error=None,
                usage=None,
                data={"workflow": workflow.name, "nodes": len(workflow.nodes), "inputs": inputs},
            )
        )
        if resumed and self.journal is not None:
            self.journal.set_run_state(run_id, RunState.RUNNING)
        run_span = new_span_id()
        execution = _Execution(
            self,
            workflow,
            inputs,
            run_id,
            prefix="",
            cache=cache or {},
            trace_id=trace_id_for(run_id),
            parent_id=run_span,
        )
        try:
            state, outputs, error = await execution.execute()
        except asyncio.CancelledError:
            self._finish(run_id, RunState.CANCELLED, None, "cancelled")
            self._trace_run(execution, run_span, started, RunState.CANCELLED, inputs, None, None)
            raise
        self._finish(run_id, state, outputs, error)
        self._trace_run(execution, run_span, started, state, inputs, outputs, error)
        return RunResult(
            run_id=run_id,
            workflow=workflow.name,
            state=state,
            outputs=outputs,
            nodes=execution.outcomes,
            usage=execution.tally.total(),
            started_at=started,
            finished_at=time.time(),
            error=error,
        )

    def _trace_run(
        self,
        execution: _Execution,
        span_id: str,
        started: float,
        state: RunState,
        inputs: dict[str, Any],
        outputs: Any,
        error: str | None,
    ) -> None:
        if self.tracer is None:
            return
        self.tracer.record(
            SpanRecord(
                trace_id=execution.trace_id,
                span_id=span_id,
                parent_id=None,
                name=execution.workflow.name,
                kind="run",
                start=started,
                end=time.time(),
                status=state.value,
                run_id=execution.run_id,
                attributes={
                    "input": inputs,
                    "output": outputs,
                    "error": error,
                    "usage": execution.tally.total().model_dump(),
                    "graph_hash": execution.workflow.graph_hash,
                },
            )
        )
        self.tracer.flush()

    def _finish(self, run_id: str, state: RunState, outputs: Any, error: str | None) -> None:
        self.emit(
            RunEvent(
                run_id=run_id,
                kind=EventKind.RUN_FINISHED,
                at=time.time(),
                node=None,
                key=None,
                state=state,
                attempt=None,
                output=outputs,
                error=None,
                usage=None,
                data={"error": error} if error else {},
            )
        )
        if self.journal is not None:
            self.journal.set_run_state(run_id, state, outputs)


class _Execution:
    """The state of one workflow execution (a run, or a sub-workflow inside one)."""

    def __init__(
        self,
        executor: Executor,
        workflow: PreparedWorkflow,
        inputs: dict[str, Any],
        run_id: str,
        *,
        prefix: str,
        cache: dict[str, Any],
        trace_id: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        self.executor = executor
        self.workflow = workflow
        self.inputs = inputs
        self.run_id = run_id
        self.prefix = prefix
        self.cache = cache
        self.trace_id = trace_id or run_id
        self.parent_id = parent_id
        nodes = workflow.nodes
        self.fail_fast = workflow.spec.on_failure is FailurePolicy.FAIL_FAST
        self.state: dict[str, NodeState] = dict.fromkeys(nodes, NodeState.PENDING)
        self.outputs: dict[str, Any] = {}
        self.arrivals: dict[str, dict[str, Any]] = {n: {} for n in nodes}
        self.resolved: dict[str, int] = dict.fromkeys(nodes, 0)
        self.active: dict[str, int] = dict.fromkeys(nodes, 0)
        self.failed_inputs: dict[str, int] = dict.fromkeys(nodes, 0)
        self.edge_errors: dict[str, str] = {}
        self.launched: set[str] = set()
        self.runs: dict[str, int] = dict.fromkeys(nodes, 0)
        self.loop_counts: dict[tuple[str, str], int] = {}
        self.outcomes: dict[str, NodeOutcome] = {}
        self.tally = UsageTally()
        self.tasks: set[asyncio.Task[None]] = set()
        self.pending = 0
        self.done = asyncio.Event()
        self.first_error: str | None = None
        self.aborted = False
        limit = workflow.spec.concurrency
        self.limit = asyncio.Semaphore(limit) if limit else None
        self.action_limits: dict[str, asyncio.Semaphore | None] = {}
        for node in nodes.values():
            declared = workflow.spec.action_concurrency.get(node.action_name)
            card = node.action.spec.card
            if declared is None and card is not None:
                declared = card.max_concurrency
            self.action_limits[node.action_name] = executor.action_limit(
                f"{workflow.name}/{node.action_name}", declared
            )

    # -- driving the run ----------------------------------------------------------

    async def execute(self) -> tuple[RunState, dict[str, Any], str | None]:
        for name, node in self.workflow.nodes.items():
            if not node.incoming:
                self.launch(name)
        try:
            if self.pending:
                await self.done.wait()
        except asyncio.CancelledError:
            await self.abort()
            raise
        return self.conclude()

    def conclude(self) -> tuple[RunState, dict[str, Any], str | None]:
        states = set(self.state.values())
        if NodeState.FAILED in states or (self.aborted and self.first_error):
            state = RunState.FAILED
        elif NodeState.CANCELLED in states:
            state = RunState.CANCELLED
        elif NodeState.NEEDS_INPUT in states:
            state = RunState.NEEDS_INPUT
        else:
            state = RunState.SUCCEEDED
        outputs: dict[str, Any] = {}
        scope = {**self.outputs, "inputs": self.inputs}
        for name, render in self.workflow.outputs.items():
            try:
                outputs[name] = render(scope)
            except ExpressionError:
                outputs[name] = None
        return state, outputs, self.first_error

    async def abort(self) -> None:
        """Cancel everything in flight and wait until it has stopped."""
        self.aborted = True
        tasks = [t for t in self.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def launch(self, name: str) -> None:
        self.launched.add(name)
        self.state[name] = NodeState.RUNNING
        self.pending += 1
        task = asyncio.get_running_loop().create_task(self.run_node(name))
        self.tasks.add(task)
        task.add_done_callback(self.task_done)

    def spawn(self, coro: Any) -> None:
        """Run a helper coroutine (a critic) that counts as work in flight."""
        self.pending += 1
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.task_done)

    def task_done(self, task: asyncio.Task[None]) -> None:
        """Bookkeeping in a done callback, so a task cancelled before it ran is counted too."""
        self.tasks.discard(task)
        self.pending -= 1
        if self.pending == 0:
            self.done.set()

    # -- one node -------------------------------------------------------------------

    async def run_node(self, name: str) -> None:
        node = self.workflow.nodes[name]
        runs = self.runs[name]
        key = f"{self.prefix}{name}#{runs}" if runs else f"{self.prefix}{name}"
        self.runs[name] = runs + 1
        outcome = NodeOutcome(name=name, key=key, state=NodeState.RUNNING)
        tracer = self.executor.tracer
        if tracer is not None:
            outcome.span_id = new_span_id()
            launched = time.time()
        self.outcomes[name] = outcome
        try:
            await self.execute_node(node, key, outcome)
        except asyncio.CancelledError:
            outcome.state = NodeState.CANCELLED
            outcome.finished_at = time.time()
            self.state[name] = NodeState.CANCELLED
            self.event(EventKind.NODE_FINISHED, node, key, NodeState.CANCELLED, outcome)
            if tracer is not None:
                self.trace_node(node, outcome, launched)
            raise
        if tracer is not None:
            self.trace_node(node, outcome, launched)
        self.complete(node, outcome)

    def trace_node(self, node: CompiledNode, outcome: NodeOutcome, launched: float) -> None:
        assert self.executor.tracer is not None and outcome.span_id is not None
        self.executor.tracer.record(
            SpanRecord(
                trace_id=self.trace_id,
                span_id=outcome.span_id,
                parent_id=self.parent_id,
                name=self.prefix + node.name,
                kind="node",
                start=outcome.started_at or launched,
                end=outcome.finished_at or time.time(),
                status=outcome.state.value,
                run_id=self.run_id,
                node=outcome.key,
                attributes={
                    "weft.action": node.action_name,
                    "weft.attempts": outcome.attempts,
                    "weft.cached": outcome.cached,
                    "weft.foreach": node.render_foreach is not None,
                    "input": outcome.arguments,
                    "output": outcome.output,
                    "error": outcome.error,
                    "usage": outcome.usage,
                },
            )
        )

    def trace_call(
        self,
        call: ActionCall,
        result: ActionResult,
        started: float,
        *,
        kind: str,
        delay: float | None = None,
    ) -> None:
        tracer = self.executor.tracer
        if tracer is None:
            return
        tracer.record(
            SpanRecord(
                trace_id=call.trace_id or self.trace_id,
                span_id=call.call_id,
                parent_id=call.parent_id,
                name=call.action,
                kind=kind,
                start=started,
                end=time.time(),
                status=result.state.value,
                run_id=self.run_id,
                node=call.node,
                agent=result.agent,
                attributes={
                    "weft.attempt": call.attempt,
                    "input": call.arguments,
                    "output": result.output,
                    "error": result.error,
                    "usage": result.usage,
                    "weft.retry_delay": delay,
                },
            )
        )

    async def execute_node(self, node: CompiledNode, key: str, outcome: NodeOutcome) -> None:
        if node.name in self.edge_errors:
            outcome.state = NodeState.FAILED
            outcome.error = ActionError(type="ConditionError", message=self.edge_errors[node.name])
            self.event(EventKind.NODE_FINISHED, node, key, NodeState.FAILED, outcome)
            return
        if key in self.cache:
            outcome.state = NodeState.SUCCEEDED
            outcome.output = self.cache[key]
            outcome.cached = True
            return
        try:
            scope = self.scope(node)
            if node.render_foreach is not None:
                items = node.render_foreach(scope)
                if not isinstance(items, list | tuple):
                    raise ExpressionError(
                        f"foreach {node.spec.foreach} gave {type(items).__name__}, not a list"
                    )
                await self.run_foreach(node, key, list(items), scope, outcome)
                return
            arguments = self.arguments(node, scope)
        except ExpressionError as exc:
            outcome.state = NodeState.FAILED
            outcome.error = ActionError(type="ReferenceError", message=f"node '{node.name}': {exc}")
            outcome.started_at = outcome.finished_at = time.time()
            self.event(EventKind.NODE_FINISHED, node, key, NodeState.FAILED, outcome)
            return
        outcome.arguments = arguments
        result, attempts, started = await self.call(node, key, arguments, outcome.span_id)
        outcome.state = _STATE_OF_RESULT[result.state]
        outcome.output = result.output
        outcome.error = result.error
        outcome.attempts = attempts
        outcome.usage = result.usage
        outcome.started_at = started
        outcome.finished_at = time.time()

    async def run_foreach(
        self,
        node: CompiledNode,
        key: str,
        items: list[Any],
        scope: dict[str, Any],
        outcome: NodeOutcome,
    ) -> None:
        started = time.time()
        self.event(EventKind.NODE_STARTED, node, key, NodeState.RUNNING, outcome, items=len(items))
        limit = asyncio.Semaphore(node.spec.concurrency) if node.spec.concurrency else None

        async def one(index: int, item: Any) -> ActionResult:
            item_key = f"{key}[{index}]"
            if item_key in self.cache:
                return ActionResult.success(item_key, self.cache[item_key])
            try:
                arguments = self.arguments(node, {**scope, "item": item, "index": index})
            except ExpressionError as exc:
                return ActionResult.failure(
                    item_key, "ReferenceError", f"node '{node.name}' item {index}: {exc}"
                )
            if limit is None:
                return (await self.call(node, item_key, arguments, outcome.span_id))[0]
            async with limit:
                return (await self.call(node, item_key, arguments, outcome.span_id))[0]

        results = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        usage = Usage()
        for result in results:
            usage = usage.add(result.usage)
        failed = [(i, r) for i, r in enumerate(results) if not r.ok]
        outcome.usage = usage
        outcome.started_at = started
        outcome.finished_at = time.time()
        outcome.attempts = 1
        if failed:
            index, first = failed[0]
            message = first.error.message if first.error else first.state.value
            outcome.state = (
                NodeState.NEEDS_INPUT
                if all(r.state is ActionState.NEEDS_INPUT for _, r in failed)
                else NodeState.FAILED
            )
            outcome.error = ActionError(
                type=first.error.type if first.error else first.state.value,
                message=f"{len(failed)} of {len(items)} items failed; item {index}: {message}",
                retryable=False,
            )
        else:
            outcome.state = NodeState.SUCCEEDED
            outcome.output = [r.output for r in results]
        self.event(EventKind.NODE_FINISHED, node, key, outcome.state, outcome)

    def scope(self, node: CompiledNode) -> dict[str, Any]:
        arrived = self.arrivals[node.name]
        scope: dict[str, Any] = {"inputs": self.inputs, "iteration": self.runs[node.name] - 1}
        if node.predecessors:
            for source in node.predecessors:
                scope[source] = arrived.get(source)
            if node.spec.join is None and len(node.predecessors) == 1:
                scope["input"] = arrived.get(node.predecessors[0])
            else:
                sources = [s for s in node.predecessors if s in arrived]
                scope["input"] = node.reducer([arrived[s] for s in sources], sources)
        return scope

    def arguments(self, node: CompiledNode, scope: dict[str, Any]) -> dict[str, Any]:
        if node.render_args is not None:
            rendered = node.render_args(scope)
            return rendered if isinstance(rendered, dict) else {}
        if node.default_param is not None:
            return {node.default_param: scope.get("input")}
        value = scope.get("input")
        return dict(value) if isinstance(value, dict) else {}

    async def call(
        self, node: CompiledNode, key: str, arguments: dict[str, Any], span: str | None = None
    ) -> tuple[ActionResult, int, float]:
        """Call the node's action with limits, timeout and retries; never raises but Cancelled."""
        started = time.time()
        limits = [s for s in (self.executor._global_limit, self.limit) if s is not None]
        action_limit = self.action_limits.get(node.action_name)
        if action_limit is not None:
            limits.append(action_limit)
        for sem in limits:
            await sem.acquire()
        try:
            return await self._attempts(node, key, arguments, started, span)
        finally:
            for sem in limits:
                sem.release()

    async def _attempts(
        self,
        node: CompiledNode,
        key: str,
        arguments: dict[str, Any],
        started: float,
        span: str | None,
    ) -> tuple[ActionResult, int, float]:
        action = node.action
        policy = node.retry
        timeout = node.timeout
        quiet = self.executor._quiet
        if not quiet:
            self.event(EventKind.NODE_STARTED, node, key, NodeState.RUNNING, None, attempt=1)
        attempt = 1
        spent: list[Usage] = []
        while True:
            # A plain node's first call *is* the node span: one span per node in
            # the common case keeps tracing cheap. Retries and foreach items get
            # spans of their own, children of the node span.
            merged = attempt == 1 and span is not None and not node.render_foreach
            call = ActionCall(
                call_id=span if merged else new_span_id(),
                action=node.action_name,
                arguments=arguments,
                run_id=self.run_id,
                trace_id=self.trace_id,
                parent_id=self.parent_id if merged else span or self.parent_id,
                node=key,
                attempt=attempt,
                deadline=time.time() + timeout if timeout else None,
            )
            ctx = ExecutionContext(self, node, key, call)
            call_started = time.time()
            try:
                if timeout is None:
                    result = await action.invoke(call, ctx)
                else:
                    async with asyncio.timeout(timeout):
                        result = await action.invoke(call, ctx)
            except TimeoutError:
                result = ActionResult.failure(
                    call.call_id,
                    "Timeout",
                    f"node '{node.name}': action '{node.action_name}' "
                    f"took longer than {timeout:g}s",
                    state=ActionState.TIMEOUT,
                    retryable=policy.retry_on_timeout,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                result = _crashed(call, action, exc)
            if ctx.child_usage is not None:
                result.usage = result.usage.add(ctx.child_usage)
            if result.state is ActionState.OK or not should_retry(policy, result, attempt):
                if not merged:
                    self.trace_call(call, result, call_started, kind="call")
                break
            spent.append(result.usage)
            delay = backoff_delay(policy, attempt)
            if merged:
                call = call.model_copy(update={"call_id": new_span_id(), "parent_id": span})
            self.trace_call(call, result, call_started, kind="call", delay=delay)
            if not quiet:
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
        for earlier in spent:
            result.usage = result.usage.add(earlier)
        self.tally.add(result.usage)
        if not quiet:
            state = _STATE_OF_RESULT[result.state]
            self.executor.emit(
                RunEvent(
                    run_id=self.run_id,
                    kind=EventKind.NODE_FINISHED,
                    at=time.time(),
                    node=self.prefix + node.name,
                    key=key,
                    state=state,
                    attempt=attempt,
                    output=result.output if state is NodeState.SUCCEEDED else None,
                    error=result.error,
                    usage=result.usage,
                    data={"started_at": started, "action": node.action_name},
                )
            )
        return result, attempt, started

    def event(
        self,
        kind: EventKind,
        node: CompiledNode,
        key: str,
        state: NodeState,
        outcome: NodeOutcome | None,
        *,
        attempt: int | None = None,
        error: ActionError | None = None,
        **data: Any,
    ) -> None:
        if self.executor._quiet:
            return
        self.executor.emit(
            RunEvent(
                run_id=self.run_id,
                kind=kind,
                at=time.time(),
                node=self.prefix + node.name,
                key=key,
                state=state,
                attempt=attempt if attempt is not None else (outcome.attempts if outcome else None),
                output=outcome.output if outcome and state is NodeState.SUCCEEDED else None,
                error=error or (outcome.error if outcome else None),
                usage=outcome.usage if outcome and kind is EventKind.NODE_FINISHED else None,
                data=data,
            )
        )

    # -- what happens after a node --------------------------------------------------

    def complete(self, node: CompiledNode, outcome: NodeOutcome) -> None:
        name = node.name
        state = outcome.state
        self.state[name] = state
        if state is NodeState.SUCCEEDED:
            self.outputs[name] = outcome.output
        elif state is NodeState.FAILED:
            if self.first_error is None:
                message = outcome.error.message if outcome.error else "failed"
                self.first_error = f"node '{self.prefix}{name}' failed: {message}"
            if self.fail_fast:
                self.aborted = True
                for task in list(self.tasks):
                    if task is not asyncio.current_task():
                        task.cancel()
                return
        if self.aborted:
            return
        if state is NodeState.SUCCEEDED:
            for loop in node.loops_out:
                if self.try_loop(loop, outcome.output):
                    return
        work: deque[tuple[CompiledEdge, NodeState, Any]] = deque(
            (edge, state, outcome.output) for edge in node.outgoing
        )
        self.deliver_all(work)

    def try_loop(self, loop: CompiledEdge, output: Any) -> bool:
        """Start the next pass of a loop when its condition holds and its bound allows."""
        pair = (loop.source, loop.target)
        count = self.loop_counts.get(pair, 0)
        assert loop.max_iterations is not None
        if count >= loop.max_iterations:
            return False
        if loop.condition is not None:
            try:
                if not loop.condition.evaluate(output, self.inputs, count):
                    return False
            except ExpressionError as exc:
                self.edge_errors[loop.target] = f"loop edge {loop.source} -> {loop.target}: {exc}"
        self.loop_counts[pair] = count + 1
        body = set(loop.body)
        for member in loop.body:
            self.state[member] = NodeState.PENDING
            self.launched.discard(member)
            arrived = self.arrivals[member]
            for source in [s for s in arrived if s in body]:
                del arrived[source]
            outside = [e for e in self.workflow.nodes[member].incoming if e.source not in body]
            self.resolved[member] = len(outside)
            self.active[member] = sum(1 for e in outside if e.source in arrived)
            self.failed_inputs[member] = 0
        self.arrivals[loop.target][loop.source] = output
        if not self.executor._quiet:
            self.executor.emit(
                RunEvent(
                    run_id=self.run_id,
                    kind=EventKind.LOOP_ITERATION,
                    at=time.time(),
                    node=self.prefix + loop.target,
                    key=None,
                    state=None,
                    attempt=None,
                    output=None,
                    error=None,
                    usage=None,
                    data={"source": loop.source, "iteration": count + 1},
                )
            )
        self.launch(loop.target)
        return True

    def deliver_all(self, work: deque[tuple[CompiledEdge, NodeState, Any]]) -> None:
        """Deliver edges breadth-first; skips propagate without recursion."""
        while work:
            edge, state, output = work.popleft()
            target = edge.target
            if state is NodeState.SUCCEEDED:
                active = True
                if edge.condition is not None:
                    try:
                        active = edge.condition.evaluate(
                            output, self.inputs, max(self.runs[edge.source] - 1, 0)
                        )
                    except ExpressionError as exc:
                        self.edge_errors[target] = f"edge {edge.source} -> {target}: {exc}"
                        active = True
                if active and edge.critic is not None and target not in self.edge_errors:
                    self.spawn(self.review(edge, output))
                    continue
                self.arrive(edge, "active" if active else "inactive", output, work)
            elif state is NodeState.SKIPPED:
                self.arrive(edge, "inactive", None, work)
            else:
                self.arrive(edge, "failed", None, work)

    async def review(self, edge: CompiledEdge, artifact: Any) -> None:
        """Run an edge's critic, then deliver the (possibly revised) artifact."""
        try:
            critic = self.workflow.registry.get(edge.critic or "")
            call = ActionCall(
                action=critic.spec.name,
                arguments={"artifact": artifact, "source": edge.source, "target": edge.target},
                run_id=self.run_id,
                trace_id=self.trace_id,
                parent_id=self.parent_id,
                node=f"{self.prefix}{edge.source}->{edge.target}",
            )
            node = self.workflow.nodes[edge.target]
            ctx = ExecutionContext(self, node, call.node or "", call)
            critic_started = time.time()
            try:
                result = await critic.invoke(call, ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                result = _crashed(call, critic, exc)
            self.trace_call(call, result, critic_started, kind="critic")
            self.tally.add(result.usage)
            kind, revised = "active", artifact
            if not result.ok:
                message = result.error.message if result.error else result.state.value
                self.edge_errors[edge.target] = (
                    f"critic on {edge.source} -> {edge.target}: {message}"
                )
            elif isinstance(result.output, dict):
                if result.output.get("approved") is False:
                    kind = "inactive"
                if "artifact" in result.output:
                    revised = result.output["artifact"]
            if not self.executor._quiet:
                self.executor.emit(
                    RunEvent(
                        run_id=self.run_id,
                        kind=EventKind.PROGRESS,
                        at=time.time(),
                        node=self.prefix + edge.target,
                        key=call.node,
                        state=None,
                        attempt=None,
                        output=None,
                        error=result.error,
                        usage=result.usage,
                        data={"critic": edge.critic, "review": result.output},
                    )
                )
            if not self.aborted:
                work: deque[tuple[CompiledEdge, NodeState, Any]] = deque()
                self.arrive(edge, kind, revised, work)
                self.deliver_all(work)
        except asyncio.CancelledError:
            raise

    def arrive(
        self,
        edge: CompiledEdge,
        kind: str,
        artifact: Any,
        work: deque[tuple[CompiledEdge, NodeState, Any]],
    ) -> None:
        target = edge.target
        self.resolved[target] += 1
        if kind == "active":
            self.arrivals[target][edge.source] = artifact
            self.active[target] += 1
        elif kind == "failed":
            self.failed_inputs[target] += 1
        if target in self.launched:
            return
        node = self.workflow.nodes[target]
        total = len(node.incoming)
        resolved = self.resolved[target]
        active = self.active[target]
        mode = node.join_mode
        if mode is JoinMode.ALL:
            if resolved < total:
                return
            if self.failed_inputs[target]:
                self.skip(node, "upstream failed", work)
            elif active == 0:
                self.skip(node, "no input (conditions false)", work)
            else:
                self.launch(target)
            return
        need = 1 if mode is JoinMode.ANY else node.quorum
        if active >= need:
            self.launch(target)
        elif active + (total - resolved) < need:
            reason = "upstream failed" if self.failed_inputs[target] else "quorum not reached"
            self.skip(node, reason, work)

    def skip(
        self, node: CompiledNode, reason: str, work: deque[tuple[CompiledEdge, NodeState, Any]]
    ) -> None:
        name = node.name
        self.launched.add(name)
        upstream_failed = reason == "upstream failed"
        self.state[name] = NodeState.SKIPPED
        key = f"{self.prefix}{name}"
        self.outcomes[name] = NodeOutcome(
            name=name, key=key, state=NodeState.SKIPPED, reason=reason
        )
        self.event(EventKind.NODE_SKIPPED, node, key, NodeState.SKIPPED, None, reason=reason)
        propagated = NodeState.FAILED if upstream_failed else NodeState.SKIPPED
        for edge in node.outgoing:
            work.append((edge, propagated, None))
