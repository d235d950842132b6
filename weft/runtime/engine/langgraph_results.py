"""A run on LangGraph's engine, read off its final state as weft's engine reports it.

``to_langgraph.run_on_langgraph`` turns the last state of the graph into the
``RunResult`` weft's engine gives: every node's outcome and the declared (or
sink) outputs, rendered as ``scheduler.Execution.conclude`` renders them. The
graph's step bound is here too: it is read off the compiled workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weft.protocols import ErrorInfo, NodeState
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.langgraph_flow import FAILED, SKIPPED, SUCCEEDED, UPSTREAM_FAILED, WAITING
from weft.runtime.engine.outcomes import NodeOutcome
from weft.runtime.engine.run_outputs import render_outputs


def step_limit(prepared: PreparedWorkflow) -> int:
    """LangGraph's ``recursion_limit`` for ``prepared``: more supersteps than any run takes.

    A pass over the graph takes at most two supersteps per node and edge
    (a poke that finds a join waiting costs one); every loop pass repeats it.
    """
    edges = sum(len(node.outgoing) for node in prepared.nodes.values())
    passes = 1
    for node in prepared.nodes.values():
        for loop in node.loops_out:
            passes *= 1 + (loop.max_iterations or 0)
    return min(2 * (3 * len(prepared.nodes) + edges) * passes + 10, 1_000_000)


SKIPS = (SKIPPED, UPSTREAM_FAILED)


def outcomes(
    prepared: PreparedWorkflow,
    state: dict[str, Any],
    calls: Mapping[str, NodeOutcome] | None = None,
) -> dict[str, NodeOutcome]:
    """Every node's ``NodeOutcome`` from the final state (``PENDING`` for what never ran).

    The state says what each node came to; ``calls`` (the outcomes the
    node calls made, latest pass) adds what it does not keep — when the node
    ran, its attempts, usage, span and agent, and whether its result was read
    back from the journal — so a run's summary reads as on weft's engine.
    """
    calls = calls or {}
    kinds = {SUCCEEDED: NodeState.SUCCEEDED, FAILED: NodeState.FAILED}
    outcomes: dict[str, NodeOutcome] = {}
    for name in prepared.nodes:
        done = state.get("states", {}).get(name)
        error = state.get("errors", {}).get(name) or {}
        settled = kinds.get(done or "", NodeState.SKIPPED if done in SKIPS else NodeState.PENDING)
        if done == FAILED and error.get(WAITING):
            settled = NodeState.NEEDS_INPUT
        outcomes[name] = NodeOutcome(
            name=name,
            key=name,
            state=settled,
            output=state.get("outputs", {}).get(name),
            error=ErrorInfo.model_validate(error) if done == FAILED else None,
            reason=error.get("reason"),
        )
        made = calls.get(name)
        if made is not None and settled_state(made) == settled_kind(done):
            outcome = outcomes[name]
            outcome.key = made.key
            outcome.attempts = made.attempts
            outcome.usage = made.usage
            outcome.started_at = made.started_at
            outcome.finished_at = made.finished_at
            outcome.cached = made.cached
            outcome.span_id = made.span_id
            outcome.agent = made.agent
    return outcomes


def settled_state(outcome: NodeOutcome) -> str:
    """Whether a call's outcome ``succeeded`` or not, as the graph's state records it."""
    return SUCCEEDED if outcome.state is NodeState.SUCCEEDED else FAILED


def settled_kind(done: str | None) -> str | None:
    """The graph state's word for a node that ran, else None (skipped, never reached)."""
    return done if done in (SUCCEEDED, FAILED) else None


def declared_outputs(
    prepared: PreparedWorkflow, state: dict[str, Any], *, run_succeeded: bool
) -> tuple[dict[str, Any], list[str]]:
    """The run's outputs and warnings as weft's ``Execution.conclude`` renders them."""
    scope = {**state.get("outputs", {}), "inputs": state["inputs"]}
    states = state.get("states", {})
    return render_outputs(
        prepared,
        scope,
        lambda name: states.get(name) == SUCCEEDED,
        run_succeeded=run_succeeded,
    )
