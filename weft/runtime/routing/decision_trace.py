"""The ``route`` span a routing decision leaves in a trace.

Kept apart from the router so that what a decision *is* (``CapabilityRouter``)
and how it is *shown* (this span, read by ``weft trace`` and the browser view)
change independently.
"""

from __future__ import annotations

import os

from weft.protocols import RoutingDecision
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id, trace_id_for

#: The score parts a last stage adds to the candidates it looked at (``likelihood`` for
#: ``LikelihoodChooser``, ``llm`` for ``LLMChooser``).
_LAST_STAGES = ("likelihood", "llm")


def trace_decision(tracer: Tracer | None, decision: RoutingDecision, wall: float) -> None:
    """Record ``decision`` (started at wall-clock ``wall``) as a ``route`` span, if traced."""
    if tracer is None:
        return
    request = decision.request
    chosen = decision.chosen.agent_id if decision.chosen else None
    # Which last stage ordered the top candidates, so a reader of the trace need not infer it
    # from the candidates' parts (a first candidate with a lower score than the second).
    last_stage = next(
        (name for name in _LAST_STAGES if any(name in c.parts for c in decision.candidates)),
        None,
    )
    tracer.record(
        SpanRecord(
            trace_id=trace_id_for(request.run_id) if request.run_id else os.urandom(16).hex(),
            span_id=new_span_id(),
            parent_id=None,
            name=f"route {request.subtask_id}" if request.subtask_id else "route",
            kind="route",
            start=wall,
            end=wall + decision.latency_s,
            status="ok" if chosen else "error",
            run_id=request.run_id,
            node=request.subtask_id,
            agent=chosen,
            attributes={
                "route.text": request.text,
                "route.capability": request.capability,
                "route.chosen": chosen,
                "route.embedding_model": decision.embedding_model,
                "route.latency_s": decision.latency_s,
                "route.last_stage": last_stage,
                "candidates": [c.model_dump() for c in decision.candidates],
            },
        )
    )
