"""The engine of ``weft run --engine langgraph``: a weft workflow as LangGraph nodes.

``to_langgraph`` (its module docstring says what maps to what) builds and runs
the graph; this module holds the graph's node functions (``GraphNodes``), the
state they share (``WeftState``) and one (sub-)workflow's run (``execute``).

A node's call is weft's own ``NodeCalls``, an edge's review weft's
``critics.review_edge``: LangGraph decides *when* a node runs, weft's code
*how*, so its arguments, limits, timeout, retries, journal events, spans,
secret masking and the resume cache are those of weft's engine, written by
the same code, under the same execution keys (``name``, ``name#pass``,
``name[item]``, ``source->target~round``, ``parent/child``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from typing_extensions import TypedDict

from weft.protocols import (
    ActionResult,
    DefinitionError,
    ErrorInfo,
    EventKind,
    Location,
    NodeState,
    RunEvent,
    RunState,
    WeftError,
)
from weft.protocols.workflow import FailurePolicy
from weft.runtime.engine.arguments import ForeachPlan, item_arguments, node_arguments
from weft.runtime.engine.compiled import CompiledEdge, CompiledNode, PreparedWorkflow
from weft.runtime.engine.critics import review_edge
from weft.runtime.engine.executor import Executor
from weft.runtime.engine.langgraph_flow import (
    DELIVERED,
    FAILED,
    INACTIVE,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    UPSTREAM_FAILED,
    WAITING,
    condition_holds,
    label,
    next_pass,
    slot_of,
)
from weft.runtime.engine.langgraph_results import declared_outputs, step_limit
from weft.runtime.engine.langgraph_results import outcomes as node_outcomes
from weft.runtime.engine.node_calls import NodeCalls
from weft.runtime.engine.node_calls import _sum_up_items as sum_up_items
from weft.runtime.engine.node_spans import node_row
from weft.runtime.engine.outcomes import NodeOutcome, RunResult, UsageTally
from weft.runtime.engine.run_events import loop_event, review_event
from weft.runtime.engine.secret_flow import register_run
from weft.runtime.engine.slots import Slot, Verdict
from weft.runtime.tracing.spans import trace_id_for
from weft.workflows.expressions import ExpressionError
from weft.workflows.reducers import ReducerError

#: Gets the events of a run on LangGraph's engine: critics' reviews, loop passes.
Listener = Callable[[RunEvent], None]


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {**left, **right}


class WeftState(TypedDict, total=False):
    """The LangGraph state of a weft run; parallel writes to a key merge."""

    inputs: dict[str, Any]
    outputs: Annotated[dict[str, Any], _merge]
    states: Annotated[dict[str, str | None], _merge]
    errors: Annotated[dict[str, Any], _merge]
    items: Annotated[dict[str, Any], _merge]
    edges: Annotated[dict[str, Any], _merge]
    runs: Annotated[dict[str, int], _merge]
    loops: Annotated[dict[str, int], _merge]
    loop_errors: Annotated[dict[str, str], _merge]


class NodeFailed(WeftError):
    """A node failed under ``on_failure: fail_fast``: the graph stops here."""

    def __init__(self, node: str, error: ErrorInfo) -> None:
        super().__init__(f"node '{node}' failed: {error.message}")
        self.node = node
        self.error = error


def check_langgraph(prepared: PreparedWorkflow, prefix: str = "") -> None:
    """Raise ``DefinitionError`` naming every node whose feature LangGraph cannot express.

    Every feature of weft's graph has a mapping (module docstring) but one: a
    capability node needs weft's router, which only weft's engine binds. The
    workflows of sub-workflow nodes, which run on LangGraph too, are checked as well.
    """
    problems: list[tuple[str, Location]] = []
    for name, node in prepared.nodes.items():
        where = f"{prefix}{name}"
        if node.spec.capability is not None:
            problems.append(
                (
                    f"node '{where}': a capability node is routed to an agent by weft's router "
                    "when it starts, which LangGraph's engine has not got (name the action)",
                    Location(node=where),
                )
            )
        inner = getattr(node.action, "prepared", None)
        if isinstance(inner, PreparedWorkflow):
            try:
                check_langgraph(inner, f"{where}/")
            except DefinitionError as exc:
                problems.extend(exc.problems)
    if problems:
        raise DefinitionError(problems)


def _combine(update: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """``update`` with ``more`` merged in, key by key (``more`` wins)."""
    combined = dict(update)
    for key, value in more.items():
        combined[key] = {**combined.get(key, {}), **value}
    return combined


@dataclass(frozen=True)
class GraphRun:
    """What every (sub-)workflow of one run on LangGraph's engine shares: the executor
    whose journal, tracer, listeners and limits its calls use, and the outputs of the
    calls a resumed run already finished and a person's answers to the questions its
    calls asked and the states those calls saved to go on from, all by execution key."""

    executor: Executor
    run_id: str
    cache: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, list[Any]] = field(default_factory=dict)
    resume_states: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def trace_id(self) -> str:
        return trace_id_for(self.run_id)


class GraphNodes:
    """The LangGraph node functions of one compiled workflow, in one run.

    A node's call is weft's ``NodeCalls``: arguments, limits, timeout, retries,
    the journal's events, the node's span and the resume cache are the ones
    weft's engine makes. ``parent_id`` is the span the node spans hang under:
    the run's, or a sub-workflow node's.
    """

    def __init__(
        self, prepared: PreparedWorkflow, run: GraphRun, prefix: str, parent_id: str | None
    ) -> None:
        self.prepared = prepared
        self.run = run
        self.prefix = prefix
        self.parent_id = parent_id
        self.tally = UsageTally()
        #: Each node's latest outcome as its call made it: timing, attempts, usage, cache.
        self.settled: dict[str, NodeOutcome] = {}
        self._calls: NodeCalls | None = None
        #: A foreach node's ``concurrency``: how many of its items run at once.
        self.item_limits = {
            name: asyncio.Semaphore(node.spec.concurrency)
            for name, node in prepared.nodes.items()
            if node.spec.concurrency
        }
        #: A foreach node between its fan-out and its gather: its outcome, items, results.
        self.foreach: dict[str, tuple[NodeOutcome, ForeachPlan, dict[int, ActionResult]]] = {}
        self.fail_fast = prepared.spec.on_failure is FailurePolicy.FAIL_FAST

    def calls(self, inputs: dict[str, Any]) -> NodeCalls:
        """The run's ``NodeCalls``, made at the first node (the inputs come in the state)."""
        if self._calls is None:
            self._calls = NodeCalls(
                self.run.executor,
                self.prepared,
                inputs,
                run_id=self.run.run_id,
                trace_id=self.run.trace_id,
                parent_id=self.parent_id,
                prefix=self.prefix,
                cache=self.run.cache,
                tally=self.tally,
                run_child=self.run_child,
                answers=self.run.answers,
                resume_states=self.run.resume_states,
            )
        return self._calls

    # -- the graph's shape ------------------------------------------------------------

    def entry(self, name: str) -> str:
        """The LangGraph node that starts weft node ``name``."""
        return name if self.prepared.nodes[name].render_foreach is None else f"{name}.foreach"

    def pokes(self, node: CompiledNode) -> list[str]:
        """The LangGraph nodes ``node``'s edges lead to: a critic's node, or the target's."""
        return list(
            dict.fromkeys(
                label(edge) if edge.critic is not None else self.entry(edge.target)
                for edge in node.outgoing
            )
        )

    def destinations(self, node: CompiledNode) -> tuple[str, ...]:
        """Where ``node`` may go next, for drawing the graph."""
        loops = [self.entry(loop.target) for loop in node.loops_out]
        return tuple(dict.fromkeys([*self.pokes(node), *loops]))

    # -- deciding and finishing -------------------------------------------------------

    def _ready(
        self, node: CompiledNode, state: dict[str, Any]
    ) -> tuple[Slot, str | ErrorInfo | None] | dict[str, Any] | None:
        """The node's slot and a broken edge's message when it launches, the update that
        skips it (journaled as weft's engine does), or None while it waits (or was decided
        by an earlier poke)."""
        if state.get("states", {}).get(node.name) is not None:
            return None
        slot, broken = slot_of(node, state)
        verdict = slot.verdict() if node.incoming else Verdict.LAUNCH
        if verdict is None:
            return None
        if verdict is not Verdict.LAUNCH:
            why = UPSTREAM_FAILED if verdict is Verdict.UPSTREAM_FAILED else SKIPPED
            self.calls(state["inputs"]).event(
                EventKind.NODE_SKIPPED,
                node,
                self.prefix + node.name,
                NodeState.SKIPPED,
                None,
                reason=verdict.value,
            )
            return {"states": {node.name: why}, "errors": {node.name: {"reason": verdict.value}}}
        return slot, broken

    def _settled(self, slot: Slot, outcome: NodeOutcome) -> dict[str, Any]:
        """The state update of a node that ran (or was decided without a call)."""
        name = slot.node.name
        self.settled[name] = outcome
        runs = {"runs": {name: slot.runs}}
        if outcome.state is NodeState.SUCCEEDED:
            return {"outputs": {name: outcome.output}, "states": {name: SUCCEEDED}, **runs}
        error = outcome.error or ErrorInfo(type=outcome.state.value, message=outcome.state.value)
        if outcome.state is NodeState.NEEDS_INPUT:
            # Waiting for a person is no failure: nothing is aborted, as on weft's engine;
            # what depends on the node waits too (the flow treats it as not delivered).
            record = {**error.model_dump(), WAITING: True}
            return {"states": {name: FAILED}, "errors": {name: record}, **runs}
        if self.fail_fast:
            raise NodeFailed(name, error)
        return {"states": {name: FAILED}, "errors": {name: error.model_dump()}, **runs}

    def _finish(self, node: CompiledNode, update: dict[str, Any], state: dict[str, Any]) -> Any:
        """The ``Command`` that records ``update`` and pokes what comes next: the loop's
        target when a loop edge starts another pass, else the nodes the edges lead to."""
        from langgraph.types import Command

        if update.get("states", {}).get(node.name) == SUCCEEDED and node.loops_out:
            loop = next_pass(node, update["outputs"][node.name], state, self.prepared.nodes)
            if loop is not None:
                self._emit_loop(node, loop.target, loop.update["loops"])
                return Command(update=_combine(update, loop.update), goto=self.entry(loop.target))
        return Command(update=update, goto=self.pokes(node))

    # -- node functions ---------------------------------------------------------------

    def plain(self, node: CompiledNode) -> Any:
        async def run(state: dict[str, Any]) -> Any:
            from langgraph.types import Command

            ready = self._ready(node, state)
            if ready is None:
                return Command()
            if isinstance(ready, dict):
                return self._finish(node, ready, state)
            slot, broken = ready
            calls = self.calls(state["inputs"])
            outcome = calls.begin(slot)
            await calls.run(slot, outcome, broken)
            return self._finish(node, self._settled(slot, outcome), state)

        return run

    def fan_out(self, node: CompiledNode) -> Any:
        """``n.foreach``: render the items and send them, or decide the node without a call
        (a broken edge, a journaled result, arguments that do not render: ``NodeCalls``)."""

        async def run(state: dict[str, Any]) -> Any:
            from langgraph.types import Command, Send

            ready = self._ready(node, state)
            if ready is None:
                return Command()
            if isinstance(ready, dict):
                return self._finish(node, ready, state)
            slot, broken = ready
            calls = self.calls(state["inputs"])
            outcome = calls.begin(slot)
            plan: dict[str, Any] | ForeachPlan | None = None
            if broken is None and outcome.key not in calls.cache:
                try:
                    plan = node_arguments(slot, state["inputs"])
                except (ExpressionError, ReducerError):
                    plan = None
            if not isinstance(plan, ForeachPlan):  # decided without a call, as weft's engine
                await calls.run(slot, outcome, broken)
                return self._finish(node, self._settled(slot, outcome), state)
            count = len(plan.items)
            outcome.started_at = time.time()
            calls.event(
                EventKind.NODE_STARTED, node, outcome.key, NodeState.RUNNING, outcome, items=count
            )
            self.foreach[node.name] = (outcome, plan, {})
            update = {"states": {node.name: RUNNING}, "runs": {node.name: slot.runs}}
            sends = [Send(f"{node.name}.item", {"index": i}) for i in range(count)]
            return Command(update=update, goto=sends or node.name)

        return run

    def item(self, node: CompiledNode) -> Any:
        """``n.item``: one call of a foreach, keyed ``{node key}[i]`` as on weft's engine."""

        async def run(task: dict[str, Any]) -> dict[str, Any]:
            index = task["index"]
            outcome, plan, results = self.foreach[node.name]
            key = f"{outcome.key}[{index}]"
            assert self._calls is not None  # the fan-out made them
            results[index] = await self._item(node, plan, index, key, outcome.span_id)
            dumped = results[index].model_dump(mode="json", include={"state", "error"})
            return {"items": {key: dumped}}

        return run

    async def _item(
        self, node: CompiledNode, plan: ForeachPlan, index: int, key: str, span: str | None
    ) -> ActionResult:
        """One item's result: from the journal of an earlier run, or its call."""
        calls = self._calls
        assert calls is not None
        if key in calls.cache:
            return ActionResult.success(key, calls.cache[key])
        try:
            arguments = item_arguments(node, plan, index)
        except ExpressionError as exc:
            return ActionResult.failure(
                key, "ReferenceError", f"node '{node.name}' item {index}: {exc}"
            )
        limit = self.item_limits.get(node.name)
        async with limit if limit is not None else contextlib.nullcontext():
            return (await calls.call(node, key, arguments, span)).result

    def gather(self, node: CompiledNode) -> Any:
        """``n``: the foreach's output, the items' outputs in order, its span and event."""

        async def run(state: dict[str, Any]) -> Any:
            from langgraph.types import Command

            if state.get("states", {}).get(node.name) != RUNNING:
                return Command()
            outcome, plan, results = self.foreach.pop(node.name)
            calls = self.calls(state["inputs"])
            outcome.finished_at = time.time()
            outcome.attempts = 1
            sum_up_items(outcome, [results[i] for i in range(len(plan.items))])
            calls.event(EventKind.NODE_FINISHED, node, outcome.key, outcome.state, outcome)
            if calls.tracer is not None and calls.node_group is not None:
                calls.tracer.record_node(calls.node_group, node_row(node, outcome))
            runs = state.get("runs", {}).get(node.name, 0)
            slot = Slot(node)
            slot.runs = runs
            return self._finish(node, self._settled(slot, outcome), state)

        return run

    def critic(self, edge: CompiledEdge) -> Any:
        """``source->target``: what the edge delivers, after its critic (and revisions),
        reviewed by weft's ``critics.review_edge``: critic spans, revisions journaled."""
        key = label(edge)
        source = self.prepared.nodes[edge.source]

        async def run(state: dict[str, Any]) -> Any:
            from langgraph.types import Command

            done = state.get("states", {}).get(edge.source)
            if state.get("edges", {}).get(key) is not None or done in (None, RUNNING):
                return Command()
            record: dict[str, Any] = {"state": INACTIVE}
            if done in (FAILED, UPSTREAM_FAILED):
                record = {"state": FAILED}
            elif done == SUCCEEDED:
                artifact = state.get("outputs", {}).get(edge.source)
                holds = condition_holds(edge, state)
                if isinstance(holds, str):
                    record = {"state": DELIVERED, "artifact": artifact, "error": holds}
                elif holds:
                    slot, _ = slot_of(source, state)
                    calls = self.calls(state["inputs"])
                    verdict = await review_edge(
                        calls, edge, artifact, slot, state["inputs"], self._reviewed
                    )
                    record = {
                        "state": DELIVERED if verdict.deliver else INACTIVE,
                        "artifact": verdict.artifact,
                        "error": verdict.error,
                        "asked": verdict.asked.model_dump() if verdict.asked else None,
                        "rounds": verdict.rounds,
                    }
            return Command(update={"edges": {key: record}}, goto=self.entry(edge.target))

        return run

    async def run_child(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], *, prefix: str, parent_id: str
    ) -> RunResult:
        """A sub-workflow node's workflow, on LangGraph's engine too, in the same run: its
        nodes keyed, journaled and traced under ``{node key}/``, as on weft's engine."""
        register_run(inputs, workflow.secret_inputs, workflow.secret_literals)
        return await execute(workflow, inputs, self.run, prefix, parent_id)

    # -- events -----------------------------------------------------------------------

    def _reviewed(self, edge: CompiledEdge, result: ActionResult, rounds: int) -> None:
        """One review's event, as weft's engine emits it (``Execution.reviewed``)."""
        executor = self.run.executor
        if not executor.quiet:
            executor.emit(review_event(self.run.run_id, self.prefix, edge, result, rounds))

    def _emit_loop(self, node: CompiledNode, target: str, passes: dict[str, int]) -> None:
        executor = self.run.executor
        if executor.quiet:
            return
        for iteration in passes.values():
            executor.emit(loop_event(self.run.run_id, self.prefix, node.name, target, iteration))


def build_graph(prepared: PreparedWorkflow, nodes: GraphNodes) -> Any:
    """The ``StateGraph`` of ``prepared`` with ``nodes``' functions."""
    try:
        from langgraph.graph import START, StateGraph
    except ImportError:
        raise ImportError(
            "--engine langgraph needs the 'langgraph' package: pip install 'weft[langgraph]'"
        ) from None
    check_langgraph(prepared)
    graph = StateGraph(WeftState)
    for name, node in prepared.nodes.items():
        ahead = nodes.destinations(node)
        if node.render_foreach is None:
            graph.add_node(name, nodes.plain(node), destinations=ahead)
        else:
            entry = f"{name}.foreach"
            graph.add_node(entry, nodes.fan_out(node), destinations=(f"{name}.item", name))
            graph.add_node(f"{name}.item", nodes.item(node))
            graph.add_node(name, nodes.gather(node), destinations=ahead)
            graph.add_edge(f"{name}.item", name)
        if not node.incoming:
            graph.add_edge(START, nodes.entry(name))
        for edge in node.outgoing:
            if edge.critic is not None:
                graph.add_node(
                    label(edge), nodes.critic(edge), destinations=(nodes.entry(edge.target),)
                )
    return graph


async def execute(
    prepared: PreparedWorkflow,
    inputs: dict[str, Any],
    run: GraphRun,
    prefix: str,
    parent_id: str | None,
) -> RunResult:
    """One (sub-)workflow of ``run`` on LangGraph; never raises for a failed node."""
    nodes = GraphNodes(prepared, run, prefix, parent_id)
    graph = build_graph(prepared, nodes).compile()
    started = time.time()
    initial: dict[str, Any] = {"inputs": inputs, "outputs": {}, "states": {}, "errors": {}}
    error: str | None = None
    final: dict[str, Any] = initial
    try:  # the state after each superstep, so a fail-fast stop keeps what finished
        config = {"recursion_limit": step_limit(prepared)}
        async for values in graph.astream(initial, config, stream_mode="values"):
            final = values
    except NodeFailed as exc:
        final, error = dict(final), f"node '{prefix}{exc.node}' failed: {exc.error.message}"
        final["states"] = {**final.get("states", {}), exc.node: FAILED}
        final["errors"] = {**final.get("errors", {}), exc.node: exc.error.model_dump()}
    outcomes = node_outcomes(prepared, final, nodes.settled)
    failed = [n for n in outcomes.values() if n.state is NodeState.FAILED]
    if failed and error is None:
        first = failed[0]
        message = first.error.message if first.error else ""
        error = f"node '{prefix}{first.name}' failed: {message}"
    waiting = any(n.state is NodeState.NEEDS_INPUT for n in outcomes.values())
    state = (
        RunState.FAILED
        if failed or error
        else RunState.NEEDS_INPUT
        if waiting
        else RunState.SUCCEEDED
    )
    outputs, warnings = declared_outputs(prepared, final, run_succeeded=state is RunState.SUCCEEDED)
    return RunResult(
        run_id=run.run_id,
        workflow=prepared.name,
        state=state,
        outputs=outputs,
        nodes=outcomes,
        usage=nodes.tally.total(),
        started_at=started,
        finished_at=time.time(),
        error=error,
        warnings=warnings,
    )
