"""The ``ActionContext`` of a call served by an ``AgentHost``, and its span.

The remote side continues the caller's trace: the span of a served call has
the trace id and parent span id of the call's ``traceparent`` user property
(the caller's call span), so the two processes' spans form one tree. Every
span made for a call (its own, its nested calls', the LLM requests an agent
reports through ``record_span``) goes to the host's tracer, if it has one,
and to the call's ``CallTrace``, which sends them back in the result when the
caller asked; progress reports go to the caller as they happen
(``_call_trace``).

What a context needs from its agent host is the small ``Host`` protocol
below (``AgentHost`` provides it), so this module does not import the host.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from weft.agents.streaming import stream_text
from weft.protocols import (
    Action,
    ActionCall,
    ActionResult,
    ActionSpec,
    ActionState,
    MessageProperties,
    ProgressEvent,
    Usage,
    idempotency_key_of,
)
from weft.protocols.human_input import Questions
from weft.protocols.remote import TRACEPARENT
from weft.protocols.results import json_result
from weft.protocols.streaming import is_text_delta
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.remote._call_trace import CallTrace
from weft.runtime.support.redaction import register_arguments
from weft.runtime.support.secrets import secret_parameters
from weft.runtime.tracing.spans import (
    SpanRecord,
    Tracer,
    new_span_id,
    parse_traceparent,
    progress_attribute,
)


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
        self,
        host: Host,
        call: ActionCall,
        properties: MessageProperties | None = None,
        trace: CallTrace | None = None,
    ) -> None:
        self.host = host
        self._call = call
        #: Where this call's spans and progress go besides the host's tracer (shared
        #: by the contexts of its nested calls); None when the caller asked for neither.
        self.trace = trace
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
        self._invoked: dict[str, int] = {}
        self._questions: Questions | None = None

    @property
    def call(self) -> ActionCall:
        return self._call

    @property
    def idempotency_key(self) -> str:
        """The caller's key for this work: the same on every attempt and on any replica."""
        return idempotency_key_of(self._call)

    def _find(self, name: str) -> Action | None:
        if name in self.host.registry:
            return self.host.registry.get(name)
        others = self.host.others
        if others is not None and name in others:
            return others.get(name)
        return None

    async def invoke(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        answers: tuple[Any, ...] = (),
        resume_state: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """Call another action of this host (or a peer) as a child of this call.

        ``answers`` answer the questions the child asks: a team served here hands
        its member, named by string, the answers its own call was resumed with;
        ``resume_state`` is what the child saved when it last asked, and
        ``idempotency_key`` the child's key when the caller names its work.
        """
        target = self._find(action)
        count = self._invoked[action] = self._invoked.get(action, 0) + 1
        key = f"{self.idempotency_key}>{action}"
        call = ActionCall(
            action=action,
            arguments=arguments,
            run_id=self._call.run_id,
            trace_id=self.trace_id,
            parent_id=self.span_id,
            node=self._call.node,
            deadline=self._call.deadline,
            idempotency_key=idempotency_key or (key if count == 1 else f"{key}#{count}"),
            answers=answers,
            resume_state=resume_state,
        )
        if target is None:
            return ActionResult.failure(
                call.call_id, "UnknownAction", f"no action '{action}' is available here"
            )
        child = HostContext(self.host, call, trace=self.trace)
        child.trace_id, child.parent_id = self.trace_id, self.span_id
        register_arguments(arguments, secret_parameters(target.spec.input_schema))
        result = await run_traced(self.host, target, call, child)
        result = json_result(result, target.spec.name)  # results are JSON, for children too
        self.child_usage = self.child_usage.add(result.usage)
        return result

    def actions(self) -> list[ActionSpec]:
        specs = dict(self.host.registry.specs())
        if self.host.others is not None:
            specs.update({k: v for k, v in self.host.others.specs().items() if k not in specs})
        return list(specs.values())

    def ask(self, question: str, *, choices: Sequence[Any] | None = None) -> Any:
        if self._questions is None:
            self._questions = Questions(self.call)
        return self._questions.ask(question, choices)

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        event = ProgressEvent(
            call_id=self._call.call_id, message=message, fraction=fraction, data=data
        )
        if not is_text_delta(data):  # streamed text goes live only (weft.protocols.streaming)
            self.progress_events.append(event)
        if self.trace is not None:
            self.trace.progress(event)

    def record_span(self, span: Mapping[str, Any]) -> None:
        """Record a span the action measured (an LLM request), by default a child of this call.

        The mapping is what ``ExecutionContext.record_span`` takes: name, kind,
        start, end, status, attributes, and optionally ``span_id``,
        ``parent_id`` and ``agent`` (a remote call passing on its server's spans).
        """
        if self.trace_id is None:
            return
        record(
            self.host,
            self.trace,
            SpanRecord(
                trace_id=self.trace_id,
                span_id=str(span.get("span_id") or new_span_id()),
                parent_id=str(span.get("parent_id") or self.span_id),
                name=str(span["name"]),
                kind=str(span.get("kind", "llm")),
                start=float(span["start"]),
                end=float(span["end"]),
                status=str(span.get("status", "ok")),
                run_id=self._call.run_id,
                node=self._call.node,
                agent=span.get("agent"),
                attributes=dict(span.get("attributes", {})),
            ),
        )


def record(host: Host, trace: CallTrace | None, span: SpanRecord) -> None:
    """Hand ``span`` to the host's tracer and to the call's trace."""
    if host.tracer is not None:
        host.tracer.record(span)
    if trace is not None:
        trace.record(span)


async def run_traced(
    host: Host, action: Action, call: ActionCall, ctx: HostContext
) -> ActionResult:
    """Invoke ``action`` within the call's deadline; never raises but ``CancelledError``."""
    started = time.time()
    try:
        with stream_text(ctx.trace is not None and ctx.trace.stream):  # as the caller asked
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
        # Its span too, so the spans sent back with the cancelled answer hang under it.
        stopped = ActionResult.failure(
            call.call_id,
            "Cancelled",
            f"agent {host.agent_id}: the call was cancelled",
            state=ActionState.CANCELLED,
        )
        _record_call_span(host, call, ctx, stopped, started)
        raise
    except Exception as exc:
        result = ActionResult.from_exception(call.call_id, exc, source=call.action)
    _record_call_span(host, call, ctx, result, started)
    return result


def _record_call_span(
    host: Host, call: ActionCall, ctx: HostContext, result: ActionResult, started: float
) -> None:
    """The agent's span of the call (``weft.side: agent``), with ``result`` completed."""
    if ctx.child_usage != Usage():
        result.usage = result.usage.add(ctx.child_usage)
    if ctx.progress_events:
        result.progress = [*result.progress, *ctx.progress_events]
    result.agent = host.agent_id
    if ctx.trace_id is not None and (host.tracer is not None or ctx.trace is not None):
        attributes: dict[str, Any] = {
            "weft.attempt": call.attempt,
            "weft.call_id": call.call_id,
            "weft.side": "agent",
            "input": call.arguments,
            "output": result.output,
            "error": result.error,
            "usage": result.usage,
        }
        if ctx.progress_events:
            attributes["weft.progress"] = progress_attribute(ctx.progress_events)
        record(
            host,
            ctx.trace,
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
                attributes=attributes,
            ),
        )
