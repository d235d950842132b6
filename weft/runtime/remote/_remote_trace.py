"""The caller's record of a remote call: its attempts, the server's spans, live progress.

What a ``RemoteAction`` learns while a call runs elsewhere goes to the
context it was called with, through the same two doors local actions use:

- ``ctx.progress(...)``: each ``ProgressEvent`` the server sends while it
  runs, as it arrives, so ``weft run`` and ``weft ask`` show it live;
- ``ctx.record_span(...)``: the spans the server returned with its result
  (its span of the call and everything under it), written under the call's
  span in the caller's trace, and one span per attempt that was abandoned
  because its agent vanished (``error`` type ``AgentLost``, naming the agent
  and why the call moved on).

Ids stay consistent: the server's spans keep their ids and their parents
(the server parented its own span on the call's span, sent as
``traceparent``); one whose parent did not come back is put under the call's
span, and everything is recorded in the caller's trace. A server whose clock
disagrees with the caller's would draw its spans outside the call that
contains them: they are shifted as a whole to sit inside it, and the shift
is kept as ``weft.clock_offset`` on the server's span.

A context without ``record_span`` or ``progress`` (not every context has
them) simply does not receive these.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from weft.protocols import ActionCall, ProgressEvent, ServedSpan
from weft.runtime.tracing.spans import new_span_id

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LostAttempt:
    """An attempt abandoned because the agent holding it vanished."""

    attempt: int
    agent: str
    start: float
    end: float
    reason: str


def forward_progress(ctx: Any, event: ProgressEvent) -> None:
    """Pass a server's progress report on to ``ctx``, as a local action's would be."""
    report = getattr(ctx, "progress", None)
    if not callable(report):
        return
    data = {k: v for k, v in event.data.items() if k not in ("message", "fraction")}
    try:
        report(event.message, event.fraction, **data)
    except Exception:  # a display's bug must not fail the call
        log.exception("progress listener failed")


def wants_spans(ctx: Any) -> bool:
    return callable(getattr(ctx, "record_span", None))


def record_lost(ctx: Any, call: ActionCall, lost: list[LostAttempt]) -> None:
    """One span per abandoned attempt, a child of the call's span."""
    if not lost or not wants_spans(ctx):
        return
    for attempt in lost:
        ctx.record_span(
            {
                "span_id": new_span_id(),
                "parent_id": call.call_id,
                "name": call.action,
                "kind": "call",
                "start": attempt.start,
                "end": attempt.end,
                "status": "error",
                "agent": attempt.agent,
                "attributes": {
                    "weft.attempt": attempt.attempt,
                    "weft.side": "caller",
                    "error": {"type": "AgentLost", "message": attempt.reason, "retryable": True},
                },
            }
        )


def record_served(
    ctx: Any, call: ActionCall, spans: list[ServedSpan], sent: float, received: float
) -> None:
    """Write the server's spans under the call's span (see the module docstring).

    ``sent`` and ``received`` are when the answered attempt was first sent and
    when its result came back, on the caller's clock.
    """
    if not spans or not wants_spans(ctx):
        return
    own = spans[0]  # the server's span of the call comes first
    offset = 0.0
    if own.start < sent or own.end > received:
        offset = (sent + received) / 2 - (own.start + own.end) / 2
    known = {s.span_id for s in spans} | {call.call_id}
    for span in spans:
        attributes = span.attributes
        if offset and span is own:
            attributes = {**attributes, "weft.clock_offset": offset}
        ctx.record_span(
            {
                "span_id": span.span_id,
                "parent_id": span.parent_id if span.parent_id in known else call.call_id,
                "name": span.name,
                "kind": span.kind,
                "start": span.start + offset,
                "end": span.end + offset,
                "status": span.status,
                "agent": span.agent,
                "attributes": attributes,
            }
        )
