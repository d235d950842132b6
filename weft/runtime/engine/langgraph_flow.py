"""Weft's scheduling decisions read off a LangGraph state (``to_langgraph``).

On LangGraph's engine a node does not wait on a barrier: every node that
finishes pokes the nodes its edges lead to, and a poked node asks weft's own
join (``Slot``) whether it can now run, must be skipped, or waits. This module
answers that from the state, without I/O: it rebuilds the node's ``Slot`` from
what its sources did (``slot_of``), and decides a loop edge's next pass
(``next_pass``), the way ``dataflow.Dataflow`` does on weft's engine.

The state keys it reads: ``states`` (a node's last state; ``None`` while it
has not resolved, or since a loop rewound it), ``outputs``, ``edges`` (what a
critic edge delivered), ``runs`` (how often a node started, for
``${iteration}``), ``loops`` (a loop edge's passes) and ``loop_errors``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from weft.protocols.actions import ErrorInfo
from weft.runtime.engine.compiled import CompiledEdge, CompiledNode
from weft.runtime.engine.slots import Slot
from weft.workflows.expressions import ExpressionError

SUCCEEDED, FAILED, SKIPPED, UPSTREAM_FAILED = "succeeded", "failed", "skipped", "upstream_failed"
#: Marks a node's error record in the state when it stopped for a person's answer: the flow
#: treats it as failed (nothing downstream runs), its outcome is ``needs_input``.
WAITING = "waiting_for_answer"
#: A foreach node between its fan-out and its gather.
RUNNING = "running"
#: What a critic edge did: delivered an artifact, resolved without one, or its source failed.
DELIVERED, INACTIVE = "delivered", "inactive"


def label(edge: CompiledEdge) -> str:
    """The edge as a key and as the name of its critic's LangGraph node: ``source->target``."""
    return f"{edge.source}->{edge.target}"


def condition_holds(edge: CompiledEdge, state: dict[str, Any]) -> bool | str:
    """Whether ``edge``'s condition holds on its source's output, or the error that broke it."""
    if edge.condition is None:
        return True
    output = state.get("outputs", {}).get(edge.source)
    iteration = max(state.get("runs", {}).get(edge.source, 0) - 1, 0)
    try:
        return bool(edge.condition.evaluate(output, state["inputs"], iteration))
    except ExpressionError as exc:
        return f"edge {edge.source} -> {edge.target}: {exc}"


def slot_of(node: CompiledNode, state: dict[str, Any]) -> tuple[Slot, str | ErrorInfo | None]:
    """``node``'s join over the edges resolved so far; and a broken edge's message (or,
    when an edge's critic asked a person, the error the node waits with).

    An edge is resolved once its source has a state (or, with a critic, once
    the critic's node recorded what it delivered). A loop edge that has
    started a pass delivers its source's latest output too, as on weft's engine.
    """
    slot = Slot(node)
    slot.runs = state.get("runs", {}).get(node.name, 0)
    states, outputs = state.get("states", {}), state.get("outputs", {})
    edges = state.get("edges", {})
    broken: str | ErrorInfo | None = state.get("loop_errors", {}).get(node.name)
    for edge in node.incoming:
        if edge.critic is not None:
            record = edges.get(label(edge))
            if record is None:
                continue
            kind, artifact = record["state"], record.get("artifact")
            broken = broken or record.get("error")
            if broken is None and record.get("asked"):
                broken = ErrorInfo.model_validate(record["asked"])
        else:
            done = states.get(edge.source)
            if done is None or done == RUNNING:
                continue
            kind, artifact = INACTIVE, None
            if done == SUCCEEDED:
                holds = condition_holds(edge, state)
                if isinstance(holds, str):
                    broken = broken or holds
                kind = DELIVERED if holds else INACTIVE
                artifact = outputs.get(edge.source)
            elif done in (FAILED, UPSTREAM_FAILED):
                kind = FAILED
        if kind == DELIVERED:
            slot.receive(edge.source, artifact)
        elif kind == FAILED:
            slot.receive_failed()
        else:
            slot.receive_inactive()
    loops = state.get("loops", {})
    for loop in node.loops_in:
        if loops.get(label(loop), 0):
            slot.arrivals[loop.source] = outputs.get(loop.source)
    return slot, broken


class LoopPass(NamedTuple):
    """A loop's next pass: the state update that rewinds its body, and the node it restarts."""

    update: dict[str, Any]
    target: str


def next_pass(
    node: CompiledNode, output: Any, state: dict[str, Any], nodes: dict[str, CompiledNode]
) -> LoopPass | None:
    """The next pass of the first loop out of ``node`` whose bound and condition allow one.

    The update forgets what the body's nodes and critic edges did (their
    states become ``None``), counts the pass and keeps the source's output,
    which the loop's target reads (``slot_of``); as ``Dataflow._next_pass``.
    """
    counts = state.get("loops", {})
    for loop in node.loops_out:
        count = counts.get(label(loop), 0)
        assert loop.max_iterations is not None
        if count >= loop.max_iterations:
            continue
        update: dict[str, Any] = {}
        if loop.condition is not None:
            try:
                if not loop.condition.evaluate(output, state["inputs"], count):
                    continue
            except ExpressionError as exc:
                message = f"loop edge {loop.source} -> {loop.target}: {exc}"
                update["loop_errors"] = {loop.target: message}
        body = set(loop.body)
        update["loops"] = {label(loop): count + 1}
        update["states"] = dict.fromkeys(body)
        update["edges"] = {
            label(edge): None
            for member in body
            for edge in nodes[member].outgoing
            if edge.critic is not None
        }
        return LoopPass(update, loop.target)
    return None
