"""The dataflow scheduler: the tasks of one workflow execution and how they advance.

There is no superstep barrier: when a node finishes, ``dataflow.Dataflow``
delivers its outgoing edges and any successor whose join is satisfied starts
in the same event-loop turn, so the makespan of a run is its critical path.
This module carries those decisions out: it owns the tasks, starts the
ready nodes, runs critics before their edges deliver, records skipped nodes,
and applies the workflow's failure policy: ``fail_fast`` cancels what is
running; ``continue`` lets independent branches finish and skips the nodes
that depended on the failure. Calling a node's action is ``node_calls``'.

A resumed run gets the outputs of calls that already finished (by execution
key) and serves them from that cache; scheduling is a deterministic function
of outputs, so the resumed run takes the same path and repeats no finished call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Mapping
from typing import Any

from weft.protocols import ActionResult, EventKind, FailurePolicy, NodeState, RunState
from weft.runtime.engine.compiled import CompiledEdge, PreparedWorkflow
from weft.runtime.engine.critics import review_edge
from weft.runtime.engine.dataflow import Advance, Dataflow, Review, Skip
from weft.runtime.engine.node_calls import NodeCalls
from weft.runtime.engine.outcomes import NodeOutcome, RunResult, UsageTally
from weft.runtime.engine.run_events import loop_event, review_event
from weft.runtime.engine.run_outputs import render_outputs
from weft.runtime.engine.secret_flow import register_run
from weft.runtime.engine.services import ExecutorServices
from weft.runtime.engine.slots import Slot

#: A task that runs successors inline yields to the event loop after this many.
INLINE_YIELD = 16


class Execution:
    """One workflow execution: a run, or a sub-workflow inside one."""

    def __init__(
        self,
        services: ExecutorServices,
        workflow: PreparedWorkflow,
        inputs: dict[str, Any],
        run_id: str,
        *,
        prefix: str,
        cache: dict[str, Any],
        answers: Mapping[str, list[Any]] | None = None,
        resume_states: Mapping[str, dict[str, Any]] | None = None,
        trace_id: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        self.services = services
        self.workflow = workflow
        self.inputs = inputs
        self.run_id = run_id
        self.prefix = prefix
        self.cache = cache
        self.answers = answers or {}
        self.resume_states = resume_states or {}
        self.trace_id = trace_id or run_id
        self.quiet = services.quiet
        self.fail_fast = workflow.spec.on_failure is FailurePolicy.FAIL_FAST
        self.flow = Dataflow(workflow, inputs)
        self.tally = UsageTally()
        self.calls = NodeCalls(
            services,
            workflow,
            inputs,
            run_id=run_id,
            trace_id=self.trace_id,
            parent_id=parent_id,
            prefix=prefix,
            cache=cache,
            answers=self.answers,
            resume_states=self.resume_states,
            tally=self.tally,
            run_child=self.run_child,
        )
        #: Every node's latest outcome, by name.
        self.outcomes: dict[str, NodeOutcome] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.pending = 0
        self.done = asyncio.Event()
        self.first_error: str | None = None
        self.aborted = False

    # -- driving the execution --------------------------------------------------------

    async def execute(self) -> RunResult:
        """Run every node that can run; cancelling this cancels them all, then re-raises."""
        started = time.time()
        for slot in self.flow.start():
            self.spawn(self.node_task(slot))
        try:
            if self.pending:
                await self.done.wait()
        except asyncio.CancelledError:
            await self.abort()
            raise
        state, outputs, warnings = self.conclude()
        return RunResult(
            run_id=self.run_id,
            workflow=self.workflow.name,
            state=state,
            outputs=outputs,
            nodes=self.outcomes,
            usage=self.tally.total(),
            started_at=started,
            finished_at=time.time(),
            error=self.first_error,
            warnings=warnings,
        )

    def conclude(self) -> tuple[RunState, dict[str, Any], list[str]]:
        """The execution's state, from its nodes', and its declared (or sink) outputs."""
        states = {slot.state for slot in self.flow.slots.values()}
        if NodeState.FAILED in states or (self.aborted and self.first_error):
            state = RunState.FAILED
        elif NodeState.CANCELLED in states:
            state = RunState.CANCELLED
        elif NodeState.NEEDS_INPUT in states:
            state = RunState.NEEDS_INPUT
        else:
            state = RunState.SUCCEEDED
        scope = {**self.flow.outputs, "inputs": self.inputs}

        def succeeded(name: str) -> bool:
            slot = self.flow.slots.get(name)
            return slot is not None and slot.state is NodeState.SUCCEEDED

        outputs, warnings = render_outputs(
            self.workflow, scope, succeeded, run_succeeded=state is RunState.SUCCEEDED
        )
        return state, outputs, warnings

    async def abort(self) -> None:
        """Cancel everything in flight and wait until it has stopped."""
        self.aborted = True
        tasks = [t for t in self.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def run_child(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], *, prefix: str, parent_id: str
    ) -> RunResult:
        """A sub-workflow, run as part of this run: same journal, cache and trace."""
        register_run(inputs, workflow.secret_inputs, workflow.secret_literals)
        child = Execution(
            self.services,
            workflow,
            inputs,
            self.run_id,
            prefix=prefix,
            cache=self.cache,
            answers=self.answers,
            resume_states=self.resume_states,
            trace_id=self.trace_id,
            parent_id=parent_id,
        )
        return await child.execute()

    # -- tasks ------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` (a ``node_task``, a ``review``) as a task that counts as work in flight."""
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

    async def node_task(self, slot: Slot) -> None:
        """Run ``slot``'s node, then the first node it made ready, and so on.

        Other ready nodes get tasks of their own. A chain thus runs in one
        task, saving a task and an event-loop turn per node; the task yields
        every ``INLINE_YIELD`` nodes to stay fair.
        """
        flow, calls = self.flow, self.calls
        inline = 0
        current: Slot | None = slot
        while current is not None:
            outcome = calls.begin(current)
            self.outcomes[current.node.name] = outcome
            edge_error = flow.edge_errors.get(current.node.name) if flow.edge_errors else None
            try:
                await calls.run(current, outcome, edge_error)
            except asyncio.CancelledError:
                flow.settle(current, NodeState.CANCELLED, None)
                raise
            ready = self.finish(current, outcome)
            current = None
            if ready:
                current = ready[0]
                for other in ready[1:]:
                    self.spawn(self.node_task(other))
                inline += 1
                if inline % INLINE_YIELD == 0:
                    await asyncio.sleep(0)

    # -- what happens after a node ----------------------------------------------------

    def finish(self, slot: Slot, outcome: NodeOutcome) -> list[Slot]:
        """Settle a node that ran and carry out what it set in motion; the nodes now ready."""
        state = outcome.state
        if state is NodeState.FAILED:
            self.fail(slot, outcome)
        if self.aborted:
            self.flow.settle(slot, state, outcome.output)
            return []
        advance = self.flow.advance(slot, state, outcome.output)
        if advance.skipped or advance.reviews or advance.loops:
            return self.carry_out(advance)
        return advance.ready  # what most nodes do: make others ready, nothing else

    def fail(self, slot: Slot, outcome: NodeOutcome) -> None:
        """Note the run's first error; under ``fail_fast``, cancel every other node in flight."""
        if self.first_error is None:
            message = outcome.error.message if outcome.error else "failed"
            self.first_error = f"node '{self.prefix}{slot.node.name}' failed: {message}"
        if self.fail_fast:
            self.aborted = True
            current = asyncio.current_task()
            for task in list(self.tasks):
                if task is not current:
                    task.cancel()

    def carry_out(self, advance: Advance) -> list[Slot]:
        """Record the skips, start the reviews and note the loop passes of ``advance``."""
        for skip in advance.skipped:
            self.record_skip(skip)
        for review in advance.reviews:
            self.spawn(self.review(review))
        if not self.quiet:
            for loop in advance.loops:
                edge = loop.edge
                event = loop_event(
                    self.run_id, self.prefix, edge.source, edge.target, loop.iteration
                )
                self.services.emit(event)
        return advance.ready

    def record_skip(self, skip: Skip) -> None:
        node = skip.slot.node
        key = self.prefix + node.name
        self.outcomes[node.name] = NodeOutcome(
            name=node.name, key=key, state=NodeState.SKIPPED, reason=skip.reason
        )
        self.calls.event(
            EventKind.NODE_SKIPPED, node, key, NodeState.SKIPPED, None, reason=skip.reason
        )

    async def review(self, review: Review) -> None:
        """Run an edge's critic (and the revisions it asks for), then deliver what it passed.

        A critic or revision that fails fails the edge's target (``edge_errors``);
        a rejection with no rounds left on an edge without rounds makes the edge
        inactive (``critics.settle``).
        """
        edge, artifact = review
        source = self.flow.slots[edge.source]
        verdict = await review_edge(self.calls, edge, artifact, source, self.inputs, self.reviewed)
        if verdict.error is not None:
            self.flow.edge_errors[edge.target] = verdict.error
        elif verdict.asked is not None:  # the target waits for the critic's answer
            self.flow.edge_errors.setdefault(edge.target, verdict.asked)
        if not self.aborted:
            advance = self.flow.deliver(edge, verdict.artifact, active=verdict.deliver)
            for slot in self.carry_out(advance):
                self.spawn(self.node_task(slot))

    def reviewed(self, edge: CompiledEdge, result: ActionResult, rounds: int) -> None:
        """One review's event: the critic, its answer and the round it was in."""
        if self.quiet:
            return
        self.services.emit(review_event(self.run_id, self.prefix, edge, result, rounds))
