"""The traces of the calls weft serves to foreign clients (``weft mcp serve``, ``weft a2a
serve``, ``weft agent serve --a2a``; not weft's own protocol, whose callers keep the spans).

weft promises that every call it runs can be inspected, and a call an MCP
or A2A client makes is one: it lands in the same trace store, in the same
format, as a ``weft run``, so ``weft trace ls``, ``weft trace show`` and the
browser view show it. Each served call (MCP: one ``tools/call``; A2A: one
task, all its turns) is a *run* of its own:

- a ``run`` span named ``ACTION (PROTOCOL)`` (``word_count (mcp)``), its
  state ``succeeded``, ``failed``, ``cancelled`` or ``needs_input`` (an MCP
  call or A2A task waiting for the client's answer), with the call's
  ``input``, ``output``, ``error`` and ``usage``, and ``served.protocol``
  (``mcp``, ``a2a``, ``a2a-mqtt``) and ``served.client`` (MCP: the
  ``clientInfo`` name/version the client gave; A2A: the task's context id)
  and, for A2A, ``served.task``;
- under it, a ``call`` span per call of the action (one per answer to a
  question asked in the middle of a handshake-era MCP call; a 2026-07-28
  round is a ``tools/call``, so a run, of its own), with the result the
  action gave before anything was taken out for the client (the traceback
  of what it raised stays here, as in a run's trace);
- under that, what the action did: calls it made by name (``ctx.invoke``),
  an LLM agent's ``llm`` spans, the spans a remote agent sent back.

An A2A task answered after ``input-required`` goes on in the same run (its
run id is a hash of protocol and task id), as ``weft resume`` adds to a
run's trace: a new run span per turn, the run's state the last turn's.

What it costs the served call: its spans are handed to the tracer (a list
append) once its result is known; the store encodes, checks and commits them
on its flush timer, as it does a run's, so nothing is written on a request's
way (``open_served_tracer`` says what was measured). Secrets are masked by
the store as in every trace: the registered ones (``weft.secret``,
secret-looking environment variables, the server's token, the call's secret
arguments: ``register_secrets``) and values under sensitive keys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from weft.protocols import ActionCall, ActionResult, ActionState, RunState, new_id
from weft.protocols.results import json_result
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.langgraph_calls import LangGraphContext
from weft.runtime.support.redaction import register_arguments
from weft.runtime.support.secrets import secret_parameters
from weft.runtime.tracing.spans import (
    SpanRecord,
    Tracer,
    new_span_id,
    progress_attribute,
    trace_id_for,
)

__all__ = [
    "CLIENT",
    "PROTOCOL",
    "TASK",
    "ServedContext",
    "ServedRun",
    "ServedTraces",
    "mcp_client",
    "open_served_tracer",
    "register_secrets",
]

#: Span attribute: the protocol a call was served over (``mcp``, ``a2a``, ``a2a-mqtt``).
PROTOCOL = "served.protocol"
#: Span attribute: who called, as far as the protocol says (MCP clientInfo, A2A context id).
CLIENT = "served.client"
#: Span attribute: the A2A task a run serves.
TASK = "served.task"

#: How to use another trace store, or none (the tail of a ``StorageError``).
TRACES_HINT = "another folder with WEFT_HOME, or --no-trace"

_RUN_STATES = {
    ActionState.OK: RunState.SUCCEEDED,
    ActionState.NEEDS_INPUT: RunState.NEEDS_INPUT,
    ActionState.CANCELLED: RunState.CANCELLED,
}


def open_served_tracer() -> Tracer:
    """The tracer of a server: the default trace store (``$WEFT_HOME/traces.db``, capped by
    ``$WEFT_TRACES_MAX_MB``), plus OTLP when configured, opened as ``weft run`` opens it.

    Its spans are committed in this process, on the store's flush timer (a
    few spans per call: a small commit every 50 ms). Measured over ``weft mcp
    serve --http`` on a two-core machine, that was within the noise of not
    tracing, where a writer process of its own from the start (``writer=
    "process"``) was slower: one more process to schedule on two cores, its
    start landing on the first calls.
    """
    from weft.runtime.engine.recording import open_tracer

    return open_tracer(hint=TRACES_HINT)


#: Where a 2026-07-28 MCP request's ``_meta`` envelope carries the client's ``clientInfo``.
CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo"


def mcp_client(ctx: Any) -> str | None:
    """``name/version`` of the ``clientInfo`` an MCP client gave (a 2026-07-28 request's
    envelope, else the handshake's), for ``served.client``; ``ctx`` is the request's context."""
    meta = getattr(ctx, "meta", None)
    info: Any = meta.get(CLIENT_INFO_META_KEY) if isinstance(meta, dict) else None
    if not isinstance(info, dict):
        params = getattr(getattr(ctx, "session", None), "client_params", None)
        given = getattr(params, "client_info", None)
        info = None if given is None else {"name": given.name, "version": given.version}
    if not isinstance(info, dict) or not info.get("name"):
        return None
    version = info.get("version")
    return f"{info['name']}/{version}" if version else str(info["name"])


def register_secrets(call: ActionCall, schema: Mapping[str, Any]) -> None:
    """Register the secret arguments of a served call (values under sensitive keys, and
    of the ``writeOnly`` parameters of ``schema``), as an agent host registers those of
    the calls it serves: masked from then on wherever they appear, in the trace and in
    what goes back to the client (an output that echoes an ``api_key``), traced or not."""
    register_arguments(call.arguments, secret_parameters(schema))


class ServedTraces:
    """Where one server's calls are traced: ``tracer`` (the caller's to close), and the
    ``protocol`` they are served over. ``start`` begins the run of one call."""

    def __init__(self, tracer: Tracer, protocol: str) -> None:
        self.tracer = tracer
        self.protocol = protocol

    def start(
        self, action: str, *, client: str | None = None, task: str | None = None
    ) -> ServedRun:
        """The run of one served call of ``action``; an A2A ``task`` keeps one run for all
        its turns (module docstring)."""
        run_id = trace_id_for(f"{self.protocol}:{task}") if task is not None else new_id()
        attributes: dict[str, Any] = {PROTOCOL: self.protocol, CLIENT: client}
        if task is not None:
            attributes[TASK] = task
        return ServedRun(self.tracer, run_id, f"{action} ({self.protocol})", attributes)


class ServedRun:
    """The run of one served call: its ``ActionCall`` fields, its spans, its end.

    Spans may be recorded from a worker thread (a plain ``def`` tool); they are
    handed to the tracer on the loop the run began on, which the store needs.
    """

    def __init__(self, tracer: Tracer, run_id: str, name: str, attributes: dict[str, Any]) -> None:
        self.tracer = tracer
        self.run_id = run_id
        self.trace_id = trace_id_for(run_id)
        self.span_id = new_span_id()
        self.name = name
        self.attributes = attributes
        self.started = time.time()
        self._loop = asyncio.get_running_loop()
        self._ended = False
        begin = getattr(tracer, "begin_run", None)  # a tracer of the user's may lack it
        if begin is not None:  # listed by name while it runs
            begin(run_id, name)

    def adopt(self, call: ActionCall) -> ActionCall:
        """``call`` as one call of the served action, a child of the run span."""
        return call.model_copy(
            update={"run_id": self.run_id, "trace_id": self.trace_id, "parent_id": self.span_id}
        )

    def record(self, span: SpanRecord) -> None:
        """Hand ``span`` to the tracer, on the run's loop."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self.tracer.record(span)
        else:
            self._loop.call_soon_threadsafe(self.tracer.record, span)

    def record_call(self, call: ActionCall, started: float, result: ActionResult) -> None:
        """The ``call`` span of one call (its span id is ``call.call_id``), ended by ``result``."""
        attributes: dict[str, Any] = {
            "weft.attempt": call.attempt,
            "input": call.arguments,
            "output": result.output,
            "error": result.error,
            "usage": result.usage,
        }
        if call.parent_id == self.span_id:
            attributes.update(self.attributes)
        if result.progress:
            attributes["weft.progress"] = progress_attribute(result.progress)
        self.record(
            SpanRecord(
                trace_id=self.trace_id,
                span_id=call.call_id,
                parent_id=call.parent_id,
                name=call.action,
                kind="call",
                start=started,
                end=time.time(),
                status=result.state.value,
                run_id=self.run_id,
                agent=result.agent,
                attributes=attributes,
            )
        )

    def record_cancelled(self, call: ActionCall, started: float) -> None:
        """The ``call`` span of a call cancelled before it gave a result."""
        message = f"{call.action}: cancelled before it finished (the client or the server)"
        cancelled = ActionResult.failure(
            call.call_id, "Cancelled", message, state=ActionState.CANCELLED
        )
        self.record_call(call, started, cancelled)

    def record_span(self, span: Mapping[str, Any], parent: ActionCall) -> None:
        """A span an action measured (an LLM request, a remote agent's spans), as
        ``ExecutionContext.record_span`` takes it, a child of ``parent``'s span by default."""
        self.record(
            SpanRecord(
                trace_id=self.trace_id,
                span_id=str(span.get("span_id") or new_span_id()),
                parent_id=str(span.get("parent_id") or parent.call_id),
                name=str(span["name"]),
                kind=str(span.get("kind", "llm")),
                start=float(span["start"]),
                end=float(span["end"]),
                status=str(span.get("status", "ok")),
                run_id=self.run_id,
                agent=span.get("agent"),
                attributes=dict(span.get("attributes", {})),
            )
        )

    def end(
        self,
        result: ActionResult | None,
        *,
        state: RunState | None = None,
        error: str | None = None,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the run span: the run ended as ``result`` says (``state`` and ``error``
        say it when there is none: the call was cancelled, or failed outside the action).
        Only the first call counts."""
        if self._ended:
            return
        self._ended = True
        if result is not None:
            state = state or _RUN_STATES.get(result.state, RunState.FAILED)
            if error is None and result.error is not None:
                error = f"{result.error.type}: {result.error.message}"
        self.record(
            SpanRecord(
                trace_id=self.trace_id,
                span_id=self.span_id,
                parent_id=None,
                name=self.name,
                kind="run",
                start=self.started,
                end=time.time(),
                status=(state or RunState.FAILED).value,
                run_id=self.run_id,
                attributes={
                    "input": dict(arguments) if arguments is not None else None,
                    "output": result.output if result is not None and result.ok else None,
                    "error": error,
                    "usage": result.usage.model_dump() if result is not None else {},
                    **self.attributes,
                },
            )
        )

    def raised(self, exc: BaseException, arguments: Mapping[str, Any]) -> None:
        """End the run of a call that raised instead of giving a result: ``cancelled`` (the
        client cancelled it, the server stops) or ``failed`` (a fault outside the action)."""
        if isinstance(exc, asyncio.CancelledError):
            self.end(None, state=RunState.CANCELLED, error="cancelled", arguments=arguments)
        else:
            error = f"{type(exc).__name__}: {exc}"
            self.end(None, state=RunState.FAILED, error=error, arguments=arguments)


class ServedContext(LangGraphContext):
    """The context of a served call: nested calls by name, no journal (``invoke_action``'s);
    with a ``ServedRun``, the nested calls are traced under the call and ``record_span``
    takes the spans an action measured. Without one there is no ``record_span``, so an
    LLM agent builds no spans for nobody."""

    #: Set only when the call is traced (``chat_spans.wants_spans`` looks for it).
    record_span: Callable[[Mapping[str, Any]], None]

    def __init__(self, registry: ActionTable, call: ActionCall, served: ServedRun | None) -> None:
        super().__init__(registry, call)
        self.served = served
        if served is not None:
            self.record_span = lambda span: served.record_span(span, call)

    async def invoke(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        answers: tuple[Any, ...] = (),
        resume_state: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """``LangGraphContext.invoke``, the nested call traced as a child of this one."""
        served = self.served
        if served is None or action not in self._registry:
            return await super().invoke(
                action,
                arguments,
                answers=answers,
                resume_state=resume_state,
                idempotency_key=idempotency_key,
            )
        target = self._registry.get(action)
        count = self._invoked[action] = self._invoked.get(action, 0) + 1
        call = ActionCall(
            action=action,
            arguments=arguments,
            run_id=served.run_id,
            trace_id=served.trace_id,
            parent_id=self._call.call_id,
            deadline=self._call.deadline,
            idempotency_key=idempotency_key or f"{self.idempotency_key}>{action}#{count}",
            answers=answers,
            resume_state=resume_state,
        )
        register_secrets(call, target.spec.input_schema)
        started = time.time()
        try:
            result = await target.invoke(call, ServedContext(self._registry, call, served))
        except asyncio.CancelledError:
            served.record_cancelled(call, started)
            raise
        except Exception as exc:
            result = ActionResult.from_exception(call.call_id, exc, source=call.action)
        result = json_result(result, target.spec.name)
        served.record_call(call, started, result)
        return result
