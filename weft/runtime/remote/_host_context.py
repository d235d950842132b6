"""The ``ActionContext`` of a call served by an ``AgentHost``, and its span.

The remote side continues the caller's trace: the span of a served call has
the trace id and parent span id of the call's ``traceparent`` user property
(the caller's call span), so the two processes' spans form one tree.

What a context needs from its agent host is the small ``Host`` protocol
below (``AgentHost`` provides it), so this module does not import the host.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from weft.protocols import (
    Action,
    ActionCall,
    ActionResult,
    ActionSpec,
    ActionState,
    MessageProperties,
    ProgressEvent,
    Usage,
)
from weft.protocols.remote import TRACEPARENT
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id, parse_traceparent


class Host(Protocol):
    """The part of an ``AgentHost`` that the calls it serves see."""

    @property
    def agent_id(self) -> str: ...

    @property
    def registry(self) -> ActionRegistry:
        """The actions the host serves."""
        ...

    @property
    def others(self) -> ActionRegistry | None:
        """Further actions (remote ones, typically) that served actions may call."""
        ...

    @property
    def tracer(self) -> Tracer | None: ...


class HostContext:
    """What a hosted action may ask for: its call, other actions, progress reports.

    ``invoke`` reaches the host's own actions first, then the host's
    ``others`` registry (remote actions), as children of the current call.
    """

    def __init__(
        self, host: Host, call: ActionCall, properties: MessageProperties | None = None
    ) -> None:
        self.host = host
        self._call = call
        self.span_id = new_span_id()
        # The call's span id is its call id (see weft.runtime.tracing.spans).
        self.trace_id = call.trace_id
        self.parent_id: str | None = call.call_id
        header = (properties.user_properties if properties else {}).get(TRACEPARENT)
        parsed = parse_traceparent(header) if header else None
        if parsed is not None:
            self.trace_id, self.parent_id = parsed
        self.progress_events: list[ProgressEvent] = []
        self.child_usage = Usage()

    @property
    def call(self) -> ActionCall:
        return self._call

    def _find(self, name: str) -> Action | None:
        if name in self.host.registry:
            return self.host.registry.get(name)
        others = self.host.others
        if others is not None and name in others:
            return others.get(name)
        return None

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        target = self._find(action)
        call = ActionCall(
            action=action,
            arguments=arguments,
            run_id=self._call.run_id,
            trace_id=self.trace_id,
            parent_id=self.span_id,
            node=self._call.node,
            deadline=self._call.deadline,
        )
        if target is None:
            return ActionResult.failure(
                call.call_id, "UnknownAction", f"no action '{action}' is available here"
            )
        child = HostContext(self.host, call)
        child.trace_id, child.parent_id = self.trace_id, self.span_id
        result = await run_traced(self.host, target, call, child)
        self.child_usage = self.child_usage.add(result.usage)
        return result

    def actions(self) -> list[ActionSpec]:
        specs = dict(self.host.registry.specs())
        if self.host.others is not None:
            specs.update({k: v for k, v in self.host.others.specs().items() if k not in specs})
        return list(specs.values())

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        self.progress_events.append(
            ProgressEvent(call_id=self._call.call_id, message=message, fraction=fraction, data=data)
        )


async def run_traced(
    host: Host, action: Action, call: ActionCall, ctx: HostContext
) -> ActionResult:
    """Invoke ``action`` within the call's deadline; never raises but ``CancelledError``."""
    started = time.time()
    try:
        if call.deadline is None:
            result = await action.invoke(call, ctx)
        else:
            async with asyncio.timeout(max(call.deadline - time.time(), 0.0)):
                result = await action.invoke(call, ctx)
    except TimeoutError:
        result = ActionResult.failure(
            call.call_id,
            "Timeout",
            f"agent {host.agent_id}: action '{call.action}' did not finish before the "
            "call deadline",
            state=ActionState.TIMEOUT,
            retryable=True,
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        result = ActionResult.from_exception(call.call_id, exc, source=call.action)
    if ctx.child_usage != Usage():
        result.usage = result.usage.add(ctx.child_usage)
    if ctx.progress_events:
        result.progress = [*result.progress, *ctx.progress_events]
    result.agent = host.agent_id
    if host.tracer is not None and ctx.trace_id is not None:
        host.tracer.record(
            SpanRecord(
                trace_id=ctx.trace_id,
                span_id=ctx.span_id,
                parent_id=ctx.parent_id,
                name=call.action,
                kind="call",
                start=started,
                end=time.time(),
                status=result.state.value,
                run_id=call.run_id,
                node=call.node,
                agent=host.agent_id,
                attributes={
                    "weft.attempt": call.attempt,
                    "weft.call_id": call.call_id,
                    "weft.side": "agent",
                    "input": call.arguments,
                    "output": result.output,
                    "error": result.error,
                    "usage": result.usage,
                },
            )
        )
    return result
