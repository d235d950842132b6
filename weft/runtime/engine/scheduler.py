"""The dataflow scheduler: the state of one workflow execution and how it advances.

There is no superstep barrier: when a node finishes, its outgoing edges are
delivered at once and any successor whose join is satisfied starts in the
same event-loop turn, so the makespan of a run is its critical path.

Per node, the arguments are rendered from the node's inputs, the action is
called under the global, workflow and per-action concurrency limits with a
timeout, retryable failures are retried with backoff, and every state change
is emitted (journal, listeners) and traced. Failures follow the workflow's
policy: ``fail_fast`` cancels what is running; ``continue`` lets independent
branches finish and skips the nodes that depended on the failure.

A resumed run gets the outputs of calls that already finished (by execution
key) and serves them from that cache; scheduling is a deterministic function
of outputs, so the resumed run takes the same path and repeats no finished call.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from weft.protocols import (
    ActionCall,
    ActionResult,
    ErrorInfo,
    EventKind,
    FailurePolicy,
    JoinMode,
    NodeState,
    RunEvent,
    RunState,
)
from weft.protocols.actions import NO_USAGE
from weft.runtime.engine.compiler import CompiledEdge, CompiledNode, PreparedWorkflow
from weft.runtime.engine.execution_context import ExecutionContext
from weft.runtime.engine.node_calls import STATE_OF_RESULT, ForeachPlan, NodeCalls
from weft.runtime.engine.outcomes import NodeOutcome, UsageTally
from weft.runtime.tracing.spans import NodeGroup, new_span_id
from weft.workflows.expressions import ExpressionError

if TYPE_CHECKING:
    from weft.runtime.engine.executor import Executor


Work = deque[tuple[CompiledEdge, NodeState, Any]]

#: A task that runs successors inline yields to the event loop after this many.
INLINE_YIELD = 16


class Slot:
    """The per-run state of one node, in one record so an edge costs one lookup."""

    __slots__ = (
        "active",
        "arrivals",
        "failed_inputs",
        "launched",
        "node",
        "resolved",
        "runs",
        "state",
        "total",
        "waits_all",
    )

    def __init__(self, node: CompiledNode) -> None:
        self.node = node
        #: Whether the node waits for every input (``join: all``, or a single input).
        self.waits_all = node.join_mode is JoinMode.ALL
        self.state = NodeState.PENDING
        self.arrivals: dict[str, Any] = {}
        self.resolved = 0
        self.active = 0
        self.failed_inputs = 0
        self.launched = False
        self.runs = 0
        self.total = len(node.incoming)


class Execution(NodeCalls):
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
        self.node_group = (
            None if executor.tracer is None else NodeGroup(run_id, self.trace_id, parent_id)
        )
        nodes = workflow.nodes
        self.fail_fast = workflow.spec.on_failure is FailurePolicy.FAIL_FAST
        self.slots: dict[str, Slot] = {name: Slot(node) for name, node in nodes.items()}
        self.outputs: dict[str, Any] = {}
        self.edge_errors: dict[str, str] = {}
        self.loop_counts: dict[tuple[str, str], int] = {}
        self.outcomes: dict[str, NodeOutcome] = {}
        self.tally = UsageTally()
        self.tasks: set[asyncio.Task[None]] = set()
        self.pending = 0
        self.done = asyncio.Event()
        self.first_error: str | None = None
        self.collecting: list[Slot] | None = None
        self.id_prefix = new_span_id()[:8]
        self.call_counter = 0
        self.aborted = False
        limit = workflow.spec.concurrency
        shared = (executor.global_limit, asyncio.Semaphore(limit) if limit else None)
        self.limits: dict[str, tuple[asyncio.Semaphore, ...]] = {}
        for node in nodes.values():
            if node.action_name in self.limits:
                continue
            declared = workflow.spec.action_concurrency.get(node.action_name)
            card = node.action.spec.card
            if declared is None and card is not None:
                declared = card.max_concurrency
            per_action = executor.action_limit(f"{workflow.name}/{node.action_name}", declared)
            self.limits[node.action_name] = tuple(
                sem for sem in (*shared, per_action) if sem is not None
            )

    # -- driving the run ----------------------------------------------------------

    async def execute(self) -> tuple[RunState, dict[str, Any], str | None]:
        for slot in self.slots.values():
            if not slot.node.incoming:
                self.launch(slot)
        if self.pending == 0 and not self.done.is_set():
            self.done.set()
        try:
            if self.pending:
                await self.done.wait()
        except asyncio.CancelledError:
            await self.abort()
            raise
        return self.conclude()

    def conclude(self) -> tuple[RunState, dict[str, Any], str | None]:
        states = {slot.state for slot in self.slots.values()}
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
        declared = bool(self.workflow.spec.outputs)
        for name, render in self.workflow.outputs.items():
            slot = self.slots.get(name)
            if not declared and (slot is None or slot.state is not NodeState.SUCCEEDED):
                continue  # a sink that did not run has no output to report
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

    def next_call_id(self) -> str:
        """A 16-hex call (span) id: a random half per execution, a counter half per call.

        Unique within the trace and unpredictable across runs, at the cost of an
        integer increment instead of a call to the OS random source per call.
        """
        self.call_counter += 1
        return f"{self.id_prefix}{self.call_counter:08x}"

    def launch(self, slot: Slot) -> None:
        """Mark ``slot`` running and give it a task, or hand it to the task finishing now.

        While a node task completes its node (``collecting`` is a list), the
        successors that become ready are collected; that task then runs the
        first of them itself and starts tasks only for the others. A chain
        thus runs in one task, saving a task creation and an event-loop turn
        per node; the task yields every ``INLINE_YIELD`` nodes to stay fair.
        """
        slot.launched = True
        slot.state = NodeState.RUNNING
        if self.collecting is not None:
            self.collecting.append(slot)
            return
        self.start_task(slot)

    def start_task(self, slot: Slot) -> None:
        self.pending += 1
        task = asyncio.get_running_loop().create_task(self.node_task(slot))
        self.tasks.add(task)
        task.add_done_callback(self.task_done)

    async def node_task(self, slot: Slot) -> None:
        inline = 0
        current: Slot | None = slot
        while current is not None:
            ready = await self.run_node(current)
            current = None
            if ready and not self.aborted:
                current = ready[0]
                for other in ready[1:]:
                    self.start_task(other)
                inline += 1
                if inline % INLINE_YIELD == 0:
                    await asyncio.sleep(0)

    def spawn(self, coro: Any) -> None:
        """Run a helper coroutine (a critic) that counts as work in flight."""
        self.pending += 1
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.task_done)

    def task_done(self, task: asyncio.Task[None]) -> None:
        """Bookkeeping in a done callback, so a task cancelled before it ran is counted too.

        A task that died of an unexpected exception (a bug, not an action's
        failure: those are results) fails the run rather than vanish silently.
        """
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self.first_error is None:
            exc = task.exception()
            self.first_error = f"internal error: {type(exc).__name__}: {exc}"
            self.aborted = True
        self.pending -= 1
        if self.pending == 0:
            self.done.set()

    # -- one node -------------------------------------------------------------------

    async def run_node(self, slot: Slot) -> list[Slot]:
        """Run one node and complete it; returns the successors it made ready."""
        node = slot.node
        name = node.name
        runs = slot.runs
        key = f"{self.prefix}{name}#{runs}" if runs else self.prefix + name if self.prefix else name
        slot.runs = runs + 1
        outcome = NodeOutcome(name, key, NodeState.RUNNING)
        tracer = self.executor.tracer
        if tracer is not None:
            outcome.span_id = self.next_call_id()
        self.outcomes[name] = outcome
        row: tuple[Any, ...] | None = None
        try:
            # Calls are awaited right here, not in a helper coroutine: a frame
            # less per node is measurable at 10 µs per node.
            prepared = self.prepare_node(slot, key, outcome)
            if isinstance(prepared, ForeachPlan):
                await self.run_foreach(node, key, prepared.items, prepared.scope, outcome)
            elif prepared is not None:
                outcome.arguments = prepared
                if self.limits[node.action_name]:
                    answer = await self.call(node, key, prepared, outcome.span_id)
                else:
                    answer = await self._attempts(node, key, prepared, time.time(), outcome.span_id)
                result, attempts, started = answer
                outcome.attempts = attempts
                outcome.started_at = started
                outcome.state = state = STATE_OF_RESULT[result.state]
                outcome.output = output = result.output
                outcome.error = error = result.error
                outcome.usage = usage = result.usage
                outcome.finished_at = finished = time.time()
                if (
                    tracer is not None
                    and attempts == 1
                    and error is None
                    and usage is NO_USAGE
                    and node.render_foreach is None
                ):
                    # A plain node's span as a short row (tracing.NODE_ROW), made from
                    # what is at hand: once per node, so every lookup saved counts.
                    row = (
                        outcome.span_id,
                        key,
                        started,
                        finished,
                        state,
                        node.action_name,
                        prepared,
                        output,
                    )
        except asyncio.CancelledError:
            outcome.state = NodeState.CANCELLED
            outcome.finished_at = time.time()
            slot.state = NodeState.CANCELLED
            self.event(EventKind.NODE_FINISHED, node, key, NodeState.CANCELLED, outcome)
            if tracer is not None:
                self.trace_node(tracer, node, outcome)
            raise
        except Exception as exc:  # a bug in weft or a reducer: fail the node, keep the run sane
            outcome.state = NodeState.FAILED
            outcome.finished_at = time.time()
            outcome.error = ErrorInfo.from_exception(exc, source=f"node '{self.prefix}{name}'")
            self.event(EventKind.NODE_FINISHED, node, key, NodeState.FAILED, outcome)
        if tracer is not None:
            if row is not None:
                tracer.record_node(self.node_group, row)  # type: ignore[arg-type]  # set with tracer
            else:
                self.trace_node(tracer, node, outcome)
        ready: list[Slot] = []
        self.collecting = ready
        try:
            self.complete(slot, outcome)
        finally:
            self.collecting = None
        return ready

    # -- what happens after a node --------------------------------------------------

    def complete(self, slot: Slot, outcome: NodeOutcome) -> None:
        node = slot.node
        name = node.name
        state = outcome.state
        slot.state = state
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
        output = outcome.output
        work: Work = deque()
        succeeded = state is NodeState.SUCCEEDED
        slots = self.slots
        for edge in node.outgoing:
            if succeeded and edge.plain:
                # The common case, inlined from ``arrive``: an unconditional edge into
                # a node that waits for all its inputs.
                slot = slots[edge.target]
                slot.resolved += 1
                slot.arrivals[edge.source] = output
                slot.active += 1
                if slot.launched:
                    continue
                if slot.waits_all:
                    if slot.resolved == slot.total and not slot.failed_inputs:
                        self.launch(slot)
                    elif slot.resolved == slot.total:
                        self.skip(slot, "upstream failed", work)
                    continue
                slot.resolved -= 1
                slot.active -= 1
                self.arrive(edge, "active", output, work)
            else:
                work.append((edge, state, output))
        if work:
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
            slot = self.slots[member]
            slot.state = NodeState.PENDING
            slot.launched = False
            arrived = slot.arrivals
            for source in [s for s in arrived if s in body]:
                del arrived[source]
            outside = [e for e in slot.node.incoming if e.source not in body]
            slot.resolved = len(outside)
            slot.active = sum(1 for e in outside if e.source in arrived)
            slot.failed_inputs = 0
        target = self.slots[loop.target]
        target.arrivals[loop.source] = output
        if not self.executor._quiet:
            self.executor.emit(
                RunEvent(
                    run_id=self.run_id,
                    kind=EventKind.LOOP_ITERATION,
                    at=time.time(),
                    node=self.prefix + loop.target,
                    data={"source": loop.source, "iteration": count + 1},
                )
            )
        self.launch(target)
        return True

    def deliver_all(self, work: Work) -> None:
        """Deliver edges breadth-first; skips propagate without recursion."""
        while work:
            edge, state, output = work.popleft()
            target = edge.target
            if state is NodeState.SUCCEEDED:
                active = True
                if edge.condition is not None:
                    try:
                        active = edge.condition.evaluate(
                            output, self.inputs, max(self.slots[edge.source].runs - 1, 0)
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
                result = ActionResult.from_exception(call.call_id, exc, source=critic.spec.name)
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
                        error=result.error,
                        usage=result.usage,
                        data={"critic": edge.critic, "review": result.output},
                    )
                )
            if not self.aborted:
                work: Work = deque()
                self.arrive(edge, kind, revised, work)
                self.deliver_all(work)
        except asyncio.CancelledError:
            raise

    def arrive(self, edge: CompiledEdge, kind: str, artifact: Any, work: Work) -> None:
        slot = self.slots[edge.target]
        slot.resolved += 1
        if kind == "active":
            slot.arrivals[edge.source] = artifact
            slot.active += 1
        elif kind == "failed":
            slot.failed_inputs += 1
        if slot.launched:
            return
        node = slot.node
        mode = node.join_mode
        if mode is JoinMode.ALL:
            if slot.resolved < slot.total:
                return
            if slot.failed_inputs:
                self.skip(slot, "upstream failed", work)
            elif slot.active == 0:
                self.skip(slot, "no input (conditions false)", work)
            else:
                self.launch(slot)
            return
        need = 1 if mode is JoinMode.ANY else node.quorum
        if slot.active >= need:
            self.launch(slot)
        elif slot.active + (slot.total - slot.resolved) < need:
            reason = "upstream failed" if slot.failed_inputs else "quorum not reached"
            self.skip(slot, reason, work)

    def skip(self, slot: Slot, reason: str, work: Work) -> None:
        node = slot.node
        name = node.name
        slot.launched = True
        upstream_failed = reason == "upstream failed"
        slot.state = NodeState.SKIPPED
        key = f"{self.prefix}{name}"
        self.outcomes[name] = NodeOutcome(
            name=name, key=key, state=NodeState.SKIPPED, reason=reason
        )
        self.event(EventKind.NODE_SKIPPED, node, key, NodeState.SKIPPED, None, reason=reason)
        propagated = NodeState.FAILED if upstream_failed else NodeState.SKIPPED
        for edge in node.outgoing:
            work.append((edge, propagated, None))
