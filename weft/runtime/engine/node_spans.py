"""The spans a run's nodes and calls leave in the trace, in the tracer's own shapes.

A node's span is handed over as a row in the trace store's layout
(``tracing.spans.NODE_ROW``), built in one place here: once per node, it
skips a ``SpanRecord`` and a dict of attributes. Other calls (retries,
foreach items, an agent's calls, critics) are ``SpanRecord``s.
"""

from __future__ import annotations

import time

from weft.protocols import ActionCall, ActionResult
from weft.protocols.actions import NO_USAGE
from weft.runtime.engine.compiled import CompiledNode
from weft.runtime.engine.outcomes import NodeOutcome
from weft.runtime.tracing.spans import NodeRow, SpanRecord


def node_row(node: CompiledNode, outcome: NodeOutcome) -> NodeRow:
    """``outcome``'s span as a ``NODE_ROW``: ``(span_id, key, start, end, status, action,
    input, output)``, followed by ``attempts, cached, foreach, error, usage`` unless they
    all have their defaults (one attempt, not cached, not foreach, no error, no usage),
    and by the agent that answered when an agent in another process did.

    A node that never called (cached, failed before its call) spans no time.
    """
    end = outcome.finished_at or time.time()
    usage = outcome.usage
    foreach = node.render_foreach is not None
    head = (
        outcome.span_id,
        outcome.key,
        outcome.started_at or end,
        end,
        outcome.state,
        node.action_name,
        outcome.arguments,
        outcome.output,
    )
    agent = outcome.agent
    if (
        outcome.attempts == 1
        and outcome.error is None
        and usage is NO_USAGE
        and not foreach
        and agent is None
    ):
        return head
    usage_or_none = None if usage is NO_USAGE else usage
    row = (*head, outcome.attempts, outcome.cached, foreach, outcome.error, usage_or_none)
    return row if agent is None else (*row, agent)


def call_span(
    call: ActionCall,
    result: ActionResult,
    started: float,
    *,
    kind: str,
    run_id: str,
    trace_id: str,
    delay: float | None = None,
) -> SpanRecord:
    """The span of one call (``kind``: call or critic); ``delay`` is the wait before a retry."""
    return SpanRecord(
        trace_id=call.trace_id or trace_id,
        span_id=call.call_id,
        parent_id=call.parent_id,
        name=call.action,
        kind=kind,
        start=started,
        end=time.time(),
        status=result.state.value,
        run_id=run_id,
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
