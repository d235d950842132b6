"""Which nodes of one execution can run next: the scheduling decisions, without I/O.

When a node finishes, ``Dataflow.advance`` delivers its outgoing edges and
returns an ``Advance``: the nodes that became ready, the nodes that can no
longer run (skipped, with the reason), the critic reviews to run before an
artifact is delivered, and the loop passes started. It never awaits, starts a
task or emits an event; ``scheduler.Execution`` carries the ``Advance`` out.

There is no superstep barrier: whatever an edge makes ready is ready at
once. Scheduling is a deterministic function of the outputs, which is what
lets a resumed run take the same path as the run it resumes.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

from weft.protocols import NodeState
from weft.protocols.actions import ErrorInfo
from weft.runtime.engine.compiled import CompiledEdge, PreparedWorkflow
from weft.runtime.engine.slots import Slot, Verdict
from weft.workflows.expressions import ExpressionError


class Skip(NamedTuple):
    """A node that will not run, and why (``Verdict.value``)."""

    slot: Slot
    reason: str


class Review(NamedTuple):
    """An edge's critic must see ``artifact`` before the edge delivers it."""

    edge: CompiledEdge
    artifact: Any


class LoopPass(NamedTuple):
    """A loop edge started pass number ``iteration`` (1 for the first repeat)."""

    edge: CompiledEdge
    iteration: int


class Advance:
    """What finishing a node (or a review) set in motion; ``ready`` nodes are marked running.

    Most nodes only make others ready, so the other three lists start as a
    shared empty tuple and become lists on first use: an advance that only
    made nodes ready costs one list.
    """

    __slots__ = ("loops", "ready", "reviews", "skipped")

    def __init__(self) -> None:
        self.ready: list[Slot] = []
        self.skipped: list[Skip] | tuple[()] = ()
        self.reviews: list[Review] | tuple[()] = ()
        self.loops: list[LoopPass] | tuple[()] = ()

    def add_skip(self, skip: Skip) -> None:
        if not self.skipped:
            self.skipped = []
        self.skipped.append(skip)

    def add_review(self, review: Review) -> None:
        if not self.reviews:
            self.reviews = []
        self.reviews.append(review)

    def add_loop(self, loop: LoopPass) -> None:
        if not self.loops:
            self.loops = []
        self.loops.append(loop)


class Dataflow:
    """The graph state of one execution: slots, outputs, failed conditions, loop counts."""

    def __init__(self, workflow: PreparedWorkflow, inputs: dict[str, Any]) -> None:
        self.inputs = inputs
        self.slots: dict[str, Slot] = {name: Slot(node) for name, node in workflow.nodes.items()}
        #: The latest output of every node that succeeded.
        self.outputs: dict[str, Any] = {}
        #: Nodes that must fail instead of running: a condition or critic on an edge
        #: into them broke (the message says which); or wait (``needs_input``) because
        #: an edge's critic asked a person (an ``ErrorInfo``).
        self.edge_errors: dict[str, str | ErrorInfo] = {}
        self.loop_counts: dict[tuple[str, str], int] = {}

    def start(self) -> list[Slot]:
        """The nodes without inputs, marked running."""
        sources = [slot for slot in self.slots.values() if not slot.total]
        for slot in sources:
            slot.launch()
        return sources

    def settle(self, slot: Slot, state: NodeState, output: Any) -> None:
        """Record how a run of ``slot``'s node ended, without delivering its edges (an
        aborted run)."""
        slot.state = state
        if state is NodeState.SUCCEEDED:
            self.outputs[slot.node.name] = output

    def advance(self, slot: Slot, state: NodeState, output: Any) -> Advance:
        """Record how a run of ``slot``'s node ended and deliver its edges; what that sets
        in motion."""
        self.settle(slot, state, output)
        advance = Advance()
        node = slot.node
        if state is not NodeState.SUCCEEDED:
            failed = state is not NodeState.SKIPPED
            for edge in node.outgoing:
                self._resolve(self.slots[edge.target], failed, advance)
            return advance
        for loop in node.loops_out:
            if self._next_pass(loop, output, advance):
                return advance
        slots = self.slots
        for edge in node.outgoing:
            if edge.plain:
                target = slots[edge.target]
                verdict = target.receive(edge.source, output)
                if verdict is not None:
                    self._apply(target, verdict, advance)
            else:
                self._deliver_guarded(edge, output, advance)
        return advance

    def deliver(self, edge: CompiledEdge, artifact: Any, *, active: bool = True) -> Advance:
        """Deliver ``artifact`` along ``edge`` (a reviewed one), or resolve it as inactive."""
        advance = Advance()
        target = self.slots[edge.target]
        verdict = target.receive(edge.source, artifact) if active else target.receive_inactive()
        if verdict is not None:
            self._apply(target, verdict, advance)
        return advance

    # -- one edge -------------------------------------------------------------------

    def _deliver_guarded(self, edge: CompiledEdge, output: Any, advance: Advance) -> None:
        """An edge with a condition or a critic: evaluate, then deliver or hand to review.

        A condition that cannot be evaluated fails the target (``edge_errors``)
        rather than the run; the edge counts as active so the target is reached.
        """
        active = True
        if edge.condition is not None:
            iteration = max(self.slots[edge.source].runs - 1, 0)
            try:
                active = edge.condition.evaluate(output, self.inputs, iteration)
            except ExpressionError as exc:
                self.edge_errors[edge.target] = f"edge {edge.source} -> {edge.target}: {exc}"
                active = True
        if active and edge.critic is not None and edge.target not in self.edge_errors:
            advance.add_review(Review(edge, output))
            return
        target = self.slots[edge.target]
        verdict = target.receive(edge.source, output) if active else target.receive_inactive()
        if verdict is not None:
            self._apply(target, verdict, advance)

    def _resolve(self, target: Slot, failed: bool, advance: Advance) -> None:
        """An edge from a node that produced nothing: it failed, or was skipped."""
        verdict = target.receive_failed() if failed else target.receive_inactive()
        if verdict is not None:
            self._apply(target, verdict, advance)

    def _apply(self, slot: Slot, verdict: Verdict, advance: Advance) -> None:
        if verdict is Verdict.LAUNCH:
            slot.launch()
            advance.ready.append(slot)
        else:
            self._skip(slot, verdict, advance)

    def _skip(self, first: Slot, verdict: Verdict, advance: Advance) -> None:
        """Skip ``first`` and whatever can no longer run because of it, breadth-first.

        Below a node skipped because something failed, edges count as failed
        (so ``continue`` policies report it); below one skipped for lack of
        input, as inactive.
        """
        queue = deque([(first, verdict)])
        while queue:
            slot, why = queue.popleft()
            slot.skip()
            advance.add_skip(Skip(slot, why.value))
            failed = why is Verdict.UPSTREAM_FAILED
            for edge in slot.node.outgoing:
                target = self.slots[edge.target]
                below = target.receive_failed() if failed else target.receive_inactive()
                if below is Verdict.LAUNCH:
                    target.launch()
                    advance.ready.append(target)
                elif below is not None:
                    queue.append((target, below))

    # -- loops ------------------------------------------------------------------------

    def _next_pass(self, loop: CompiledEdge, output: Any, advance: Advance) -> bool:
        """Start the loop's next pass when its condition holds and its bound allows."""
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
        body = frozenset(loop.body)
        for member in loop.body:
            self.slots[member].rewind(body)
        target = self.slots[loop.target]
        target.arrivals[loop.source] = output
        target.launch()
        advance.add_loop(LoopPass(loop, count + 1))
        advance.ready.append(target)
        return True
