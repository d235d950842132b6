"""A weft workflow compiled to a LangGraph ``StateGraph``, and run on LangGraph's engine.

``weft run --engine langgraph`` exists so a user can check that weft's graph
means the same on LangGraph, and hand a workflow to a LangGraph shop. The
graph keeps weft's meaning by reusing weft's own pure decisions: each node's
join is weft's ``Slot``, its arguments weft's ``node_arguments``, its
conditions and outputs the compiled expressions. What maps to what:

- the state is ``inputs`` (the run's resolved inputs), ``outputs`` (artifact by
  node), ``states`` (``succeeded | failed | skipped | upstream_failed`` by node)
  and ``errors``; every key but ``inputs`` merges the writes of parallel nodes;
- a node is a LangGraph node calling the weft action (``langgraph_calls``), with
  its timeout and retry policy; an edge is an edge, several into one node a
  waiting edge (LangGraph waits for all of them);
- ``when`` on an edge is decided by the node it leads to, from the source's
  output: a LangGraph conditional edge would leave a join below an untaken
  branch waiting forever, where weft skips it;
- ``foreach`` is ``Send``: node ``n.foreach`` renders the items and sends one
  ``n.item`` task each, in one superstep; node ``n`` gathers them in order;
- ``join: all`` with any reducer is weft's; ``on_failure: fail_fast`` stops the
  graph at the first failure (an exception out of the node), ``continue``
  records it and skips what depended on it.

Refused, with the node and the reason (``DefinitionError``): loop edges
(``max_iterations``), critics on edges, and ``join: any`` or a quorum, which
start a node on the first inputs to arrive; LangGraph runs supersteps and
has no way to start a node once and ignore the inputs that arrive later.
"""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any

from typing_extensions import TypedDict

from weft.protocols import (
    DefinitionError,
    ErrorInfo,
    JoinMode,
    Location,
    NodeState,
    RunState,
    WeftError,
)
from weft.protocols.workflow import FailurePolicy
from weft.runtime.engine.arguments import ForeachPlan, item_arguments, node_arguments
from weft.runtime.engine.compiled import CompiledNode, PreparedWorkflow
from weft.runtime.engine.compiler import Actions, compile_workflow
from weft.runtime.engine.inputs import resolve_inputs
from weft.runtime.engine.langgraph_calls import call_node
from weft.runtime.engine.outcomes import NodeOutcome, RunResult, UsageTally
from weft.runtime.engine.slots import Slot, Verdict
from weft.workflows.expressions import ExpressionError

__all__ = [
    "NodeFailed",
    "check_langgraph",
    "run_langgraph",
    "run_on_langgraph",
    "to_langgraph",
]

SUCCEEDED, FAILED, SKIPPED, UPSTREAM_FAILED = "succeeded", "failed", "skipped", "upstream_failed"


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {**left, **right}


class WeftState(TypedDict, total=False):
    """The LangGraph state of a weft run; parallel writes to a key merge."""

    inputs: dict[str, Any]
    outputs: Annotated[dict[str, Any], _merge]
    states: Annotated[dict[str, str], _merge]
    errors: Annotated[dict[str, Any], _merge]
    items: Annotated[dict[str, Any], _merge]
    usage: Annotated[list[dict[str, Any]], operator.add]


class NodeFailed(WeftError):
    """A node failed under ``on_failure: fail_fast``: the graph stops here."""

    def __init__(self, node: str, error: ErrorInfo) -> None:
        super().__init__(f"node '{node}' failed: {error.message}")
        self.node = node
        self.error = error


def check_langgraph(prepared: PreparedWorkflow) -> None:
    """Raise ``DefinitionError`` naming every node whose feature LangGraph cannot express."""
    problems: list[tuple[str, Location]] = []
    for name, node in prepared.nodes.items():
        where = Location(node=name)
        for edge in (*node.incoming, *node.loops_in):
            if edge.max_iterations is not None or edge.body:
                problems.append(
                    (
                        f"node '{name}': the loop edge from '{edge.source}' is not supported "
                        "on the langgraph engine (weft rewinds the loop body; use weft's engine)",
                        where,
                    )
                )
            if edge.critic is not None:
                problems.append(
                    (
                        f"node '{name}': the critic '{edge.critic}' on the edge from "
                        f"'{edge.source}' has no LangGraph equivalent",
                        where,
                    )
                )
        if len(node.incoming) > 1 and node.join_mode is not JoinMode.ALL:
            problems.append(
                (
                    f"node '{name}': join '{node.join_mode.value}' starts the node on the first "
                    "inputs to arrive; LangGraph's supersteps cannot (use join: all)",
                    where,
                )
            )
    if problems:
        raise DefinitionError(problems)


def _slot(node: CompiledNode, state: dict[str, Any]) -> tuple[Slot, str | None]:
    """Weft's join of ``node`` over what its sources did; and an edge condition's error."""
    slot = Slot(node)
    outputs, states, inputs = state.get("outputs", {}), state.get("states", {}), state["inputs"]
    for edge in node.incoming:
        done = states.get(edge.source)
        if done == SUCCEEDED:
            output = outputs.get(edge.source)
            active = True
            if edge.condition is not None:
                try:
                    active = bool(edge.condition.evaluate(output, inputs, 0))
                except ExpressionError as exc:
                    return slot, f"edge {edge.source} -> {node.name}: {exc}"
            if active:
                slot.receive(edge.source, output)
            else:
                slot.receive_inactive()
        elif done in (FAILED, UPSTREAM_FAILED):
            slot.receive_failed()
        else:
            slot.receive_inactive()
    return slot, None


class _Nodes:
    """The LangGraph node functions of one compiled workflow."""

    def __init__(self, prepared: PreparedWorkflow, run_id: str) -> None:
        self.prepared = prepared
        self.run_id = run_id
        self.fail_fast = prepared.spec.on_failure is FailurePolicy.FAIL_FAST

    def _failed(self, name: str, error: ErrorInfo, usage: Any = None) -> dict[str, Any]:
        if self.fail_fast:
            raise NodeFailed(name, error)
        update: dict[str, Any] = {"states": {name: FAILED}, "errors": {name: error.model_dump()}}
        if usage is not None:
            update["usage"] = [usage.model_dump()]
        return update

    def _ready(self, node: CompiledNode, state: dict[str, Any]) -> Slot | dict[str, Any]:
        """The node's slot when it launches, else the state update that skips or fails it."""
        if not node.incoming:
            return Slot(node)
        slot, edge_error = _slot(node, state)
        if edge_error is not None:
            return self._failed(node.name, ErrorInfo(type="ConditionError", message=edge_error))
        verdict = slot.verdict() or Verdict.NO_INPUT  # every input has resolved: never None
        if verdict is Verdict.LAUNCH:
            return slot
        why = UPSTREAM_FAILED if verdict is Verdict.UPSTREAM_FAILED else SKIPPED
        return {"states": {node.name: why}, "errors": {node.name: {"reason": verdict.value}}}

    def plain(self, node: CompiledNode) -> Any:
        async def run(state: dict[str, Any]) -> dict[str, Any]:
            ready = self._ready(node, state)
            if isinstance(ready, dict):
                return ready
            try:
                arguments = node_arguments(ready, state["inputs"])
            except ExpressionError as exc:
                error = ErrorInfo(type="ReferenceError", message=f"node '{node.name}': {exc}")
                return self._failed(node.name, error)
            assert not isinstance(arguments, ForeachPlan)
            result = await call_node(
                node, node.name, arguments, self.run_id, self.prepared.registry
            )
            if not result.ok:
                assert result.error is not None
                return self._failed(node.name, result.error, result.usage)
            return {
                "outputs": {node.name: result.output},
                "states": {node.name: SUCCEEDED},
                "usage": [result.usage.model_dump()],
            }

        return run

    def fan_out(self, node: CompiledNode) -> Any:
        """``n.foreach``: render the items (or decide the node does not run)."""

        async def run(state: dict[str, Any]) -> dict[str, Any]:
            ready = self._ready(node, state)
            if isinstance(ready, dict):
                return ready
            try:
                plan = node_arguments(ready, state["inputs"])
                assert isinstance(plan, ForeachPlan)
                arguments = [item_arguments(node, plan, i) for i in range(len(plan.items))]
            except ExpressionError as exc:
                error = ErrorInfo(type="ReferenceError", message=f"node '{node.name}': {exc}")
                return self._failed(node.name, error)
            return {"items": {node.name: {"arguments": arguments, "results": {}}}}

        return run

    def route(self, node: CompiledNode) -> Any:
        from langgraph.types import Send

        def sends(state: dict[str, Any]) -> list[Any] | str:
            planned = state.get("items", {}).get(node.name)
            if node.name in state.get("states", {}) or not planned or not planned["arguments"]:
                return node.name
            return [
                Send(f"{node.name}.item", {"index": i, "arguments": args})
                for i, args in enumerate(planned["arguments"])
            ]

        return sends

    def item(self, node: CompiledNode) -> Any:
        """``n.item``: one call of a foreach, its result kept by index."""

        async def run(task: dict[str, Any]) -> dict[str, Any]:
            index = task["index"]
            key = f"{node.name}[{index}]"
            result = await call_node(
                node, key, task["arguments"], self.run_id, self.prepared.registry
            )
            dumped = result.model_dump(mode="json", include={"state", "output", "error", "usage"})
            return {"items": {f"{node.name}[{index}]": dumped}}

        return run

    def gather(self, node: CompiledNode) -> Any:
        """``n``: the foreach's output, the items' outputs in order (weft's ``_sum_up_items``)."""

        async def run(state: dict[str, Any]) -> dict[str, Any]:
            if node.name in state.get("states", {}):
                return {}  # skipped or failed before the items
            items = state.get("items", {})
            count = len(items.get(node.name, {}).get("arguments", []))
            results = [items[f"{node.name}[{i}]"] for i in range(count)]
            usage = [r["usage"] for r in results]
            failed = [(i, r) for i, r in enumerate(results) if r["state"] != "ok"]
            if not failed:
                return {
                    "outputs": {node.name: [r["output"] for r in results]},
                    "states": {node.name: SUCCEEDED},
                    "usage": usage,
                }
            index, first = failed[0]
            error = first.get("error") or {"type": first["state"], "message": first["state"]}
            message = f"{len(failed)} of {count} items failed; item {index}: {error['message']}"
            return self._failed(node.name, ErrorInfo(type=error["type"], message=message))

        return run


def to_langgraph(prepared: PreparedWorkflow, run_id: str = "langgraph") -> Any:
    """The ``StateGraph`` (not yet compiled) that runs ``prepared`` on LangGraph.

    Raises ``DefinitionError`` for what LangGraph cannot express (``check_langgraph``)
    and ``ImportError`` naming the extra when ``langgraph`` is not installed.
    """
    try:
        from langgraph.graph import START, StateGraph
    except ImportError:
        raise ImportError(
            "--engine langgraph needs the 'langgraph' package: pip install 'weft[langgraph]'"
        ) from None
    check_langgraph(prepared)
    nodes = _Nodes(prepared, run_id)
    graph = StateGraph(WeftState)
    for name, node in prepared.nodes.items():
        if node.render_foreach is None:
            graph.add_node(name, nodes.plain(node))
            entry = name
        else:
            entry = f"{name}.foreach"
            graph.add_node(entry, nodes.fan_out(node))
            graph.add_node(f"{name}.item", nodes.item(node))
            graph.add_node(name, nodes.gather(node))
            graph.add_conditional_edges(entry, nodes.route(node), [f"{name}.item", name])
            graph.add_edge(f"{name}.item", name)
        sources = list(dict.fromkeys(edge.source for edge in node.incoming))
        if not sources:
            graph.add_edge(START, entry)
        else:
            graph.add_edge(sources[0] if len(sources) == 1 else sources, entry)
    return graph


def _outcomes(prepared: PreparedWorkflow, state: dict[str, Any]) -> dict[str, NodeOutcome]:
    kinds = {SUCCEEDED: NodeState.SUCCEEDED, FAILED: NodeState.FAILED}
    outcomes: dict[str, NodeOutcome] = {}
    for name in prepared.nodes:
        done = state.get("states", {}).get(name)
        error = state.get("errors", {}).get(name) or {}
        outcomes[name] = NodeOutcome(
            name=name,
            key=name,
            state=kinds.get(done or "", NodeState.SKIPPED if done else NodeState.PENDING),
            output=state.get("outputs", {}).get(name),
            error=ErrorInfo.model_validate(error) if done == FAILED else None,
            reason=error.get("reason"),
        )
    return outcomes


def _declared_outputs(prepared: PreparedWorkflow, state: dict[str, Any]) -> dict[str, Any]:
    """The run's outputs as weft's ``Execution.conclude`` renders them."""
    node_outputs = state.get("outputs", {})
    scope = {**node_outputs, "inputs": state["inputs"]}
    declared = bool(prepared.spec.outputs)
    outputs: dict[str, Any] = {}
    for name, render in prepared.outputs.items():
        if not declared and state.get("states", {}).get(name) != SUCCEEDED:
            continue
        try:
            outputs[name] = render(scope)
        except ExpressionError:
            outputs[name] = None
    return outputs


async def run_on_langgraph(
    prepared: PreparedWorkflow, inputs: dict[str, Any], *, run_id: str | None = None
) -> RunResult:
    """Run ``prepared`` with resolved ``inputs`` on LangGraph; the result weft's engine gives.

    Never raises for a failed node (the result says so); nothing is journaled.
    """
    from weft.protocols import Usage, new_id

    run_id = run_id or new_id()
    graph = to_langgraph(prepared, run_id).compile()
    started = time.time()
    initial: dict[str, Any] = {"inputs": inputs, "outputs": {}, "states": {}, "errors": {}}
    error: str | None = None
    final: dict[str, Any] = initial
    try:  # the state after each superstep, so a fail-fast stop keeps what finished
        config = {"recursion_limit": 4 * len(prepared.nodes) + 10}
        async for values in graph.astream(initial, config, stream_mode="values"):
            final = values
    except NodeFailed as exc:
        final, error = dict(final), str(exc)
        final["states"] = {**final.get("states", {}), exc.node: FAILED}
        final["errors"] = {**final.get("errors", {}), exc.node: exc.error.model_dump()}
    nodes = _outcomes(prepared, final)
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
        outputs=_declared_outputs(prepared, final),
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
) -> RunResult:
    """``run_workflow``'s front door on LangGraph's engine (``weft run --engine langgraph``).

    Raises ``DefinitionError`` (also for what LangGraph cannot express) or
    ``InputError`` before anything runs, and ``WeftError`` when ``langgraph``
    is not installed.
    """
    prepared = compile_workflow(definition, actions)
    resolved = resolve_inputs(prepared.spec, inputs, from_text=inputs_from_text)
    try:
        return await run_on_langgraph(prepared, resolved, run_id=run_id)
    except ImportError as exc:
        raise WeftError(str(exc)) from None
