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
- a node is a LangGraph node calling the weft action (``langgraph_calls``), with
  its timeout and retry policy. It ends with a ``Command`` whose ``goto`` pokes
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
  with the feedback (``langgraph_critics``); the target reads what the edge
  delivered. The source's own output is unchanged, as on weft's engine;
- a loop edge (``max_iterations``) is a ``goto`` from its source back to its
  target: the pass is counted in the state and the body's states are reset,
  so its nodes run again and ``${iteration}`` counts up;
- ``foreach`` is ``Send``: node ``n.foreach`` renders the items and sends one
  ``n.item`` task each, in one superstep; node ``n`` gathers them in order;
- ``concurrency``, ``action_concurrency`` and a foreach's ``concurrency`` are
  the semaphores weft's engine holds around a call (``langgraph_calls``);
- ``on_failure: fail_fast`` stops the graph at the first failure (an exception
  out of the node), ``continue`` records it and skips what depended on it.

Refused, with the node and the reason (``DefinitionError``, ``check_langgraph``):
a capability node, whose agent weft's router picks when it starts. Nothing is
journaled or traced, and a run cannot be resumed: that is weft's engine's.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from typing_extensions import TypedDict

from weft.protocols import (
    ActionCall,
    ActionResult,
    DefinitionError,
    ErrorInfo,
    Location,
    NodeState,
    RunEvent,
    RunState,
    WeftError,
)
from weft.protocols.workflow import FailurePolicy
from weft.runtime.engine.arguments import ForeachPlan, item_arguments, node_arguments
from weft.runtime.engine.compiled import CompiledEdge, CompiledNode, PreparedWorkflow
from weft.runtime.engine.compiler import Actions, compile_workflow
from weft.runtime.engine.inputs import resolve_inputs
from weft.runtime.engine.langgraph_calls import RunScope, call_limits
from weft.runtime.engine.langgraph_critics import EdgeReview
from weft.runtime.engine.langgraph_flow import (
    DELIVERED,
    FAILED,
    INACTIVE,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    UPSTREAM_FAILED,
    condition_holds,
    label,
    next_pass,
    slot_of,
)
from weft.runtime.engine.langgraph_results import declared_outputs, outcomes, step_limit
from weft.runtime.engine.outcomes import RunResult, UsageTally
from weft.runtime.engine.run_events import loop_event, review_event
from weft.runtime.engine.slots import Slot, Verdict
from weft.workflows.expressions import ExpressionError

#: Gets the events of a run on LangGraph's engine: critics' reviews, loop passes.
Listener = Callable[[RunEvent], None]

__all__ = [
    "NodeFailed",
    "check_langgraph",
    "run_langgraph",
    "run_on_langgraph",
    "to_langgraph",
]


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
    usage: Annotated[list[dict[str, Any]], operator.add]


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


class _Nodes:
    """The LangGraph node functions of one compiled workflow."""

    def __init__(
        self, prepared: PreparedWorkflow, run_id: str, prefix: str, listeners: Sequence[Listener]
    ) -> None:
        self.prepared = prepared
        self.prefix = prefix
        self.listeners = listeners
        limits = call_limits(prepared)
        self.scope = RunScope(run_id, prepared.registry, prefix, self.run_child, limits)
        #: A foreach node's ``concurrency``: how many of its items run at once.
        self.item_limits = {
            name: asyncio.Semaphore(node.spec.concurrency)
            for name, node in prepared.nodes.items()
            if node.spec.concurrency
        }
        self.fail_fast = prepared.spec.on_failure is FailurePolicy.FAIL_FAST

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

    def _failed(self, name: str, error: ErrorInfo, usage: Any = None) -> dict[str, Any]:
        if self.fail_fast:
            raise NodeFailed(name, error)
        update: dict[str, Any] = {"states": {name: FAILED}, "errors": {name: error.model_dump()}}
        if usage is not None:
            update["usage"] = [usage.model_dump()]
        return update

    def _ready(self, node: CompiledNode, state: dict[str, Any]) -> Slot | dict[str, Any] | None:
        """The node's slot when it launches, the update that skips or fails it, or None
        while it waits (or was decided by an earlier poke)."""
        if state.get("states", {}).get(node.name) is not None:
            return None
        slot, broken = slot_of(node, state)
        verdict = slot.verdict() if node.incoming else Verdict.LAUNCH
        if verdict is None:
            return None
        if verdict is not Verdict.LAUNCH:
            why = UPSTREAM_FAILED if verdict is Verdict.UPSTREAM_FAILED else SKIPPED
            return {"states": {node.name: why}, "errors": {node.name: {"reason": verdict.value}}}
        if broken is not None:
            return self._failed(node.name, ErrorInfo(type="ConditionError", message=broken))
        slot.runs += 1
        return slot

    def _broken_reference(self, slot: Slot, exc: ExpressionError) -> dict[str, Any]:
        """The update that fails a node whose arguments do not render."""
        name = slot.node.name
        error = ErrorInfo(type="ReferenceError", message=f"node '{name}': {exc}")
        return {**self._failed(name, error), "runs": {name: slot.runs}}

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
            try:
                arguments = node_arguments(ready, state["inputs"])
            except ExpressionError as exc:
                return self._finish(node, self._broken_reference(ready, exc), state)
            assert not isinstance(arguments, ForeachPlan)
            runs = {"runs": {node.name: ready.runs}}
            key = node.name if ready.runs == 1 else f"{node.name}#{ready.runs - 1}"
            result = await self.scope.call(node, key, arguments)
            if not result.ok:
                assert result.error is not None
                failed = self._failed(node.name, result.error, result.usage)
                return self._finish(node, {**failed, **runs}, state)
            update = {
                "outputs": {node.name: result.output},
                "states": {node.name: SUCCEEDED},
                "usage": [result.usage.model_dump()],
                **runs,
            }
            return self._finish(node, update, state)

        return run

    def fan_out(self, node: CompiledNode) -> Any:
        """``n.foreach``: render the items and send them, or decide the node does not run."""

        async def run(state: dict[str, Any]) -> Any:
            from langgraph.types import Command, Send

            ready = self._ready(node, state)
            if ready is None:
                return Command()
            if isinstance(ready, dict):
                return self._finish(node, ready, state)
            try:
                plan = node_arguments(ready, state["inputs"])
                assert isinstance(plan, ForeachPlan)
                arguments = [item_arguments(node, plan, i) for i in range(len(plan.items))]
            except ExpressionError as exc:
                return self._finish(node, self._broken_reference(ready, exc), state)
            runs = {"runs": {node.name: ready.runs}}
            update = {
                "items": {node.name: {"arguments": arguments}},
                "states": {node.name: RUNNING},
                **runs,
            }
            sends = [
                Send(f"{node.name}.item", {"index": i, "arguments": args})
                for i, args in enumerate(arguments)
            ]
            return Command(update=update, goto=sends or node.name)

        return run

    def item(self, node: CompiledNode) -> Any:
        """``n.item``: one call of a foreach, its result kept by index."""

        async def run(task: dict[str, Any]) -> dict[str, Any]:
            index = task["index"]
            key = f"{node.name}[{index}]"
            limit = self.item_limits.get(node.name)
            result = await self.scope.call(node, key, task["arguments"], limit)
            dumped = result.model_dump(mode="json", include={"state", "output", "error", "usage"})
            return {"items": {f"{node.name}[{index}]": dumped}}

        return run

    def gather(self, node: CompiledNode) -> Any:
        """``n``: the foreach's output, the items' outputs in order (weft's ``_sum_up_items``)."""

        async def run(state: dict[str, Any]) -> Any:
            from langgraph.types import Command

            if state.get("states", {}).get(node.name) != RUNNING:
                return Command()
            items = state.get("items", {})
            count = len(items.get(node.name, {}).get("arguments", []))
            results = [items[f"{node.name}[{i}]"] for i in range(count)]
            usage = [r["usage"] for r in results]
            failed = [(i, r) for i, r in enumerate(results) if r["state"] != "ok"]
            if not failed:
                update = {
                    "outputs": {node.name: [r["output"] for r in results]},
                    "states": {node.name: SUCCEEDED},
                    "usage": usage,
                }
                return self._finish(node, update, state)
            index, first = failed[0]
            error = first.get("error") or {"type": first["state"], "message": first["state"]}
            message = f"{len(failed)} of {count} items failed; item {index}: {error['message']}"
            update = self._failed(node.name, ErrorInfo(type=error["type"], message=message))
            return self._finish(node, {**update, "usage": usage}, state)

        return run

    def critic(self, edge: CompiledEdge) -> Any:
        """``source->target``: what the edge delivers, after its critic (and revisions)."""
        key = label(edge)
        source = self.prepared.nodes[edge.source]

        async def run(state: dict[str, Any]) -> Any:
            from langgraph.types import Command

            done = state.get("states", {}).get(edge.source)
            if state.get("edges", {}).get(key) is not None or done in (None, RUNNING):
                return Command()
            usage: list[dict[str, Any]] = []
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
                    review = EdgeReview(edge, slot, state["inputs"], self.scope, self._emit_review)
                    verdict = await review.run(artifact)
                    usage = [u.model_dump() for u in review.usage]
                    record = {
                        "state": DELIVERED if verdict.deliver else INACTIVE,
                        "artifact": verdict.artifact,
                        "error": verdict.error,
                        "rounds": verdict.rounds,
                    }
            update = {"edges": {key: record}, "usage": usage}
            return Command(update=update, goto=self.entry(edge.target))

        return run

    async def run_child(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], call: ActionCall
    ) -> RunResult:
        """A sub-workflow node's workflow, on LangGraph's engine too, in the same run; its
        events reach the listeners under ``{node key}/``, as on weft's engine."""
        return await run_on_langgraph(
            workflow,
            inputs,
            run_id=call.run_id,
            listeners=self.listeners,
            prefix=f"{call.node or call.action}/",
        )

    # -- events -----------------------------------------------------------------------

    def _emit(self, event: RunEvent) -> None:
        for listener in self.listeners:
            listener(event)

    def _emit_review(self, edge: CompiledEdge, result: ActionResult, rounds: int) -> None:
        """One review's event, as weft's engine emits it (``Execution.reviewed``)."""
        self._emit(review_event(self.scope.run_id, self.prefix, edge, result, rounds))

    def _emit_loop(self, node: CompiledNode, target: str, passes: dict[str, int]) -> None:
        for iteration in passes.values():
            self._emit(loop_event(self.scope.run_id, self.prefix, node.name, target, iteration))


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
    """
    try:
        from langgraph.graph import START, StateGraph
    except ImportError:
        raise ImportError(
            "--engine langgraph needs the 'langgraph' package: pip install 'weft[langgraph]'"
        ) from None
    check_langgraph(prepared)
    nodes = _Nodes(prepared, run_id, prefix, listeners)
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


async def run_on_langgraph(
    prepared: PreparedWorkflow,
    inputs: dict[str, Any],
    *,
    run_id: str | None = None,
    listeners: Sequence[Listener] = (),
    prefix: str = "",
) -> RunResult:
    """Run ``prepared`` with resolved ``inputs`` on LangGraph; the result weft's engine gives.

    Never raises for a failed node (the result says so); nothing is journaled.
    """
    from weft.protocols import Usage, new_id

    run_id = run_id or new_id()
    graph = to_langgraph(prepared, run_id, listeners, prefix=prefix).compile()
    started = time.time()
    initial: dict[str, Any] = {"inputs": inputs, "outputs": {}, "states": {}, "errors": {}}
    error: str | None = None
    final: dict[str, Any] = initial
    try:  # the state after each superstep, so a fail-fast stop keeps what finished
        config = {"recursion_limit": step_limit(prepared)}
        async for values in graph.astream(initial, config, stream_mode="values"):
            final = values
    except NodeFailed as exc:
        final, error = dict(final), str(exc)
        final["states"] = {**final.get("states", {}), exc.node: FAILED}
        final["errors"] = {**final.get("errors", {}), exc.node: exc.error.model_dump()}
    nodes = outcomes(prepared, final)
    tally = UsageTally()
    for used in final.get("usage", []):
        tally.add(Usage.model_validate(used))
    failed = [n for n in nodes.values() if n.state is NodeState.FAILED]
    if failed and error is None:
        first = failed[0]
        error = f"node '{first.name}' failed: {first.error.message if first.error else ''}"
    return RunResult(
        run_id=run_id,
        workflow=prepared.name,
        state=RunState.FAILED if failed else RunState.SUCCEEDED,
        outputs=declared_outputs(prepared, final),
        nodes=nodes,
        usage=tally.total(),
        started_at=started,
        finished_at=time.time(),
        error=error,
    )


async def run_langgraph(
    definition: Any,
    inputs: dict[str, Any] | None = None,
    *,
    actions: Actions = None,
    run_id: str | None = None,
    inputs_from_text: bool = False,
    listeners: Sequence[Listener] = (),
) -> RunResult:
    """``run_workflow``'s front door on LangGraph's engine (``weft run --engine langgraph``).

    Raises ``DefinitionError`` (also for what LangGraph cannot express) or
    ``InputError`` before anything runs, and ``WeftError`` when ``langgraph``
    is not installed.
    """
    prepared = compile_workflow(definition, actions)
    resolved = resolve_inputs(prepared.spec, inputs, from_text=inputs_from_text)
    try:
        return await run_on_langgraph(prepared, resolved, run_id=run_id, listeners=listeners)
    except ImportError as exc:
        raise WeftError(str(exc)) from None
