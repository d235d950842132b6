"""Where a team's spans go (every message, member call and choice), and posting that spans.

A team runs inside a workflow node (its context has ``record_span``, as an
LLM agent's does) or on its own from Python (a ``Tracer`` is given, or
nothing is recorded). ``TeamSpans`` hides the difference. Message spans are
of kind ``team`` and carry the flow-control state in ``weft.team.*``
attributes, which ``weft trace show`` prints under the span and the HTML
view lists with the span's details.
"""

from __future__ import annotations

import time
from typing import Any

from weft.protocols import ActionCall, ActionResult
from weft.protocols.teams import MessageType, TeamMessage, TeamState
from weft.runtime.teams.channel import TeamChannel
from weft.runtime.teams.state_machine import FlowControl
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id, trace_id_for

#: Characters of a message's text kept in its span name.
NAME_CHARS = 60


class TeamSpans:
    """Records the spans of one conversation under the team's own call span."""

    __slots__ = ("_ctx", "_tracer", "parent_id", "run_id", "team", "trace_id")

    def __init__(self, team: str, call: ActionCall, ctx: Any, tracer: Tracer | None) -> None:
        self.team = team
        self._ctx = ctx
        self._tracer = tracer
        self.parent_id = call.call_id
        self.run_id = call.run_id
        self.trace_id = call.trace_id or trace_id_for(call.run_id or call.call_id)

    @property
    def enabled(self) -> bool:
        return self._tracer is not None or callable(getattr(self._ctx, "record_span", None))

    def record(
        self,
        name: str,
        *,
        kind: str,
        start: float,
        status: str = "ok",
        attributes: dict[str, Any],
        span_id: str | None = None,
        parent_id: str | None = None,
        agent: str | None = None,
    ) -> None:
        """One span ending now; ``parent_id`` defaults to the team's call."""
        span_id = span_id or new_span_id()
        parent_id = parent_id or self.parent_id
        end = time.time()
        if self._tracer is not None:
            self._tracer.record(
                SpanRecord(
                    trace_id=self.trace_id,
                    span_id=span_id,
                    parent_id=parent_id,
                    name=name,
                    kind=kind,
                    start=start,
                    end=end,
                    status=status,
                    run_id=self.run_id,
                    agent=agent,
                    attributes=attributes,
                )
            )
            return
        hook = getattr(self._ctx, "record_span", None)
        if callable(hook):
            hook(
                {
                    "name": name,
                    "kind": kind,
                    "start": start,
                    "end": end,
                    "status": status,
                    "span_id": span_id,
                    "parent_id": parent_id,
                    "agent": agent,
                    "attributes": attributes,
                }
            )

    def message(
        self, message: TeamMessage, previous: TeamState, start: float, span_id: str | None
    ) -> None:
        """The span of one message on the team topic, with the transition it made."""
        text = message.text.replace("\n", " ")
        label = f"{message.sender}: {message.type.value}"
        if message.turn is not None:
            label = f"turn {message.turn} {label}"
        elif message.type is MessageType.REFINEMENT:
            label = f"round {message.data.get('round')} {label}"
        if text:
            label += f" · {text[:NAME_CHARS]}{'…' if len(text) > NAME_CHARS else ''}"
        self.record(
            label,
            kind="team",
            start=start,
            span_id=span_id,
            status="error" if message.data.get("ok") is False else "ok",
            attributes={
                "weft.team": self.team,
                "weft.team.conversation": message.team,
                "weft.team.message": message.type.value,
                "weft.team.sender": message.sender,
                "weft.team.turn": message.turn,
                "weft.team.from_state": previous.value,
                "weft.team.state": message.state.value,
                "weft.team.to": message.to,
                "weft.team.vote": message.vote,
                "weft.team.task_id": message.task_id,
                "weft.team.wait_for": message.wait_for or None,
                "weft.team.selected_by": message.data.get("selected_by"),
                "output": message.model_dump(
                    mode="json", exclude={"id", "team", "at", "state", "sender", "type"}
                ),
            },
        )

    def call(self, call: ActionCall, result: ActionResult, start: float) -> None:
        """The span of a member called directly (not through the workflow's registry)."""
        self.record(
            call.action,
            kind="call",
            start=start,
            status=result.state.value,
            span_id=call.call_id,
            parent_id=call.parent_id,
            agent=result.agent,
            attributes={
                "input": call.arguments,
                "output": result.output,
                "error": result.error,
                "usage": result.usage,
            },
        )


async def post_moving(
    channel: TeamChannel,
    flow: FlowControl,
    spans: TeamSpans,
    kind: MessageType,
    sender: str,
    state: TeamState,
    *,
    span_id: str | None = None,
    started: float | None = None,
    **fields: Any,
) -> TeamMessage:
    """Move ``flow`` to ``state`` and publish the message (under the channel's lock); span it.

    Returns once the message came back from the bus. An illegal move raises
    before anything is published.
    """
    started = started or time.time()
    before: list[TeamState] = []

    def build() -> TeamMessage:
        before.append(flow.state)
        flow.move(state)
        return TeamMessage(
            team=channel.conversation, type=kind, sender=sender, state=state, **fields
        )

    message = await channel.post(build)
    spans.message(message, before[0], started, span_id)
    return message
