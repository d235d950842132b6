"""Calling a node's action: arguments, foreach, limits, timeout, retries, events, spans.

``NodeCalls`` is the half of ``scheduler.Execution`` that runs one node; the
other half decides *when* nodes run. It reads the execution's state through
the attributes declared below and never changes the graph's bookkeeping.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from weft.protocols import (
    ActionCall,
    ActionResult,
    ActionState,
    ErrorInfo,
    EventKind,
    NodeState,
    Usage,
)
from weft.protocols.actions import NO_USAGE, trusted
from weft.runtime.engine.compiler import CompiledNode, PreparedWorkflow
from weft.runtime.engine.execution_context import UNUSED_CONTEXT, ExecutionContext, crashed_result
from weft.runtime.engine.outcomes import NodeOutcome, UsageTally
from weft.runtime.engine.retry import backoff_delay, should_retry
from weft.runtime.support import logging as logs
from weft.runtime.tracing.spans import NodeGroup, SpanRecord, Tracer, new_span_id
from weft.workflows.expressions import ExpressionError
from weft.workflows.reducers import ReducerError, reduce_list

if TYPE_CHECKING:
    from weft.runtime.engine.executor import Executor
    from weft.runtime.engine.scheduler import Slot

STATE_OF_RESULT = {
    ActionState.OK: NodeState.SUCCEEDED,
    ActionState.ERROR: NodeState.FAILED,
    ActionState.TIMEOUT: NodeState.FAILED,
    ActionState.CANCELLED: NodeState.CANCELLED,
    ActionState.NEEDS_INPUT: NodeState.NEEDS_INPUT,
}


class ForeachPlan:
    """The items a foreach node runs over, and the scope they are rendered in."""

    __slots__ = ("items", "scope")

    def __init__(self, items: list[Any], scope: dict[str, Any]) -> None:
        self.items = items
        self.scope = scope


class NodeCalls:
    """Mixin for ``Execution``: everything about calling one node's action."""

    executor: Executor
    workflow: PreparedWorkflow
    inputs: dict[str, Any]
    run_id: str
    prefix: str
    cache: dict[str, Any]
    trace_id: str
    parent_id: str | None
    node_group: NodeGroup | None
    edge_errors: dict[str, str]
    limits: dict[str, tuple[asyncio.Semaphore, ...]]
    tally: UsageTally

    def next_call_id(self) -> str:
        raise NotImplementedError

    def trace_node(self, tracer: Tracer, node: CompiledNode, outcome: NodeOutcome) -> None:
        """The span of a node that is not a plain call (``run_node`` makes those rows itself).

        Cached, retried, failed, foreach or cancelled: the row carries every field
        (tracing.NODE_ROW). A node that never called spans no time.
        """
        end = outcome.finished_at or time.time()
        usage = outcome.usage
        row = (
            outcome.span_id,
            outcome.key,
            outcome.started_at or end,
            end,
            outcome.state,
            node.action_name,
            outcome.arguments,
            outcome.output,
            outcome.attempts,
            outcome.cached,
            node.render_foreach is not None,
            outcome.error,
            None if usage is NO_USAGE else usage,
        )
        tracer.record_node(self.node_group, row)  # type: ignore[arg-type]  # set with tracer

    def trace_call(
        self,
        call: ActionCall,
        result: ActionResult,
        started: float,
        *,
        kind: str,
        delay: float | None = None,
    ) -> None:
        tracer = self.executor.tracer
        if tracer is None:
            return
        tracer.record(
            SpanRecord(
                trace_id=call.trace_id or self.trace_id,
                span_id=call.call_id,
                parent_id=call.parent_id,
                name=call.action,
                kind=kind,
                start=started,
                end=time.time(),
                status=result.state.value,
                run_id=self.run_id,
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
        )

    def prepare_node(
        self, slot: Slot, key: str, outcome: NodeOutcome
    ) -> dict[str, Any] | ForeachPlan | None:
        """What running ``slot`` takes: its arguments, a foreach plan, or None when
        ``outcome`` is already decided (a failed condition, a journaled result, a
        reference that does not resolve)."""
        node = slot.node
        if self.edge_errors and node.name in self.edge_errors:
            outcome.state = NodeState.FAILED
            outcome.error = ErrorInfo(type="ConditionError", message=self.edge_errors[node.name])
            self.event(EventKind.NODE_FINISHED, node, key, NodeState.FAILED, outcome)
            return None
        if self.cache and key in self.cache:
            outcome.state = NodeState.SUCCEEDED
            outcome.output = self.cache[key]
            outcome.cached = True
            return None
        try:
            if node.render_args is None and node.render_foreach is None:
                return self.default_arguments(slot)
            scope = self.scope(slot)
            if node.render_foreach is not None:
                items = node.render_foreach(scope)
                if not isinstance(items, list | tuple):
                    raise ExpressionError(
                        f"foreach {node.spec.foreach} gave {type(items).__name__}, not a list"
                    )
                return ForeachPlan(list(items), scope)
            return self.arguments(node, scope)
        except (ExpressionError, ReducerError) as exc:
            kind = "ReducerError" if isinstance(exc, ReducerError) else "ReferenceError"
            outcome.state = NodeState.FAILED
            outcome.error = ErrorInfo(type=kind, message=f"node '{node.name}': {exc}")
            outcome.started_at = outcome.finished_at = time.time()
            self.event(EventKind.NODE_FINISHED, node, key, NodeState.FAILED, outcome)
            return None

    async def run_foreach(
        self,
        node: CompiledNode,
        key: str,
        items: list[Any],
        scope: dict[str, Any],
        outcome: NodeOutcome,
    ) -> None:
        started = time.time()
        self.event(EventKind.NODE_STARTED, node, key, NodeState.RUNNING, outcome, items=len(items))
        limit = asyncio.Semaphore(node.spec.concurrency) if node.spec.concurrency else None

        async def one(index: int, item: Any) -> ActionResult:
            item_key = f"{key}[{index}]"
            if item_key in self.cache:
                return ActionResult.success(item_key, self.cache[item_key])
            try:
                arguments = self.arguments(node, {**scope, "item": item, "index": index})
            except ExpressionError as exc:
                return ActionResult.failure(
                    item_key, "ReferenceError", f"node '{node.name}' item {index}: {exc}"
                )
            if limit is None:
                return (await self.call(node, item_key, arguments, outcome.span_id))[0]
            async with limit:
                return (await self.call(node, item_key, arguments, outcome.span_id))[0]

        results = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        usage = Usage()
        for result in results:
            usage = usage.add(result.usage)
        failed = [(i, r) for i, r in enumerate(results) if not r.ok]
        outcome.usage = usage
        outcome.started_at = started
        outcome.finished_at = time.time()
        outcome.attempts = 1
        if failed:
            index, first = failed[0]
            message = first.error.message if first.error else first.state.value
            outcome.state = (
                NodeState.NEEDS_INPUT
                if all(r.state is ActionState.NEEDS_INPUT for _, r in failed)
                else NodeState.FAILED
            )
            outcome.error = ErrorInfo(
                type=first.error.type if first.error else first.state.value,
                message=f"{len(failed)} of {len(items)} items failed; item {index}: {message}",
                retryable=False,
            )
        else:
            outcome.state = NodeState.SUCCEEDED
            outcome.output = [r.output for r in results]
        self.event(EventKind.NODE_FINISHED, node, key, outcome.state, outcome)

    def scope(self, slot: Slot) -> dict[str, Any]:
        node = slot.node
        arrived = slot.arrivals
        scope: dict[str, Any] = {"inputs": self.inputs, "iteration": slot.runs - 1}
        if node.predecessors:
            for source in node.predecessors:
                scope[source] = arrived.get(source)
            if node.spec.join is None and len(node.predecessors) == 1:
                scope["input"] = arrived.get(node.predecessors[0])
            else:
                sources = [s for s in node.predecessors if s in arrived]
                scope["input"] = node.reducer([arrived[s] for s in sources], sources)
        return scope

    def default_arguments(self, slot: Slot) -> dict[str, Any]:
        """Arguments of a node without ``with``: its input, without building a scope."""
        node = slot.node
        arrived = slot.arrivals
        if not node.predecessors:
            return {}
        if node.spec.join is None and len(node.predecessors) == 1:
            value = arrived.get(node.predecessors[0])
        elif len(arrived) == len(node.predecessors):  # everything arrived: no filtering
            sources = node.predecessors
            values = list(map(arrived.__getitem__, sources))
            # The default reducer would only copy the list again.
            value = values if node.reducer is reduce_list else node.reducer(values, list(sources))
        else:
            present = [s for s in node.predecessors if s in arrived]
            value = node.reducer([arrived[s] for s in present], present)
        if node.default_param is not None:
            return {node.default_param: value}
        return dict(value) if isinstance(value, dict) else {}

    def arguments(self, node: CompiledNode, scope: dict[str, Any]) -> dict[str, Any]:
        if node.render_args is not None:
            rendered = node.render_args(scope)
            return rendered if isinstance(rendered, dict) else {}
        if node.default_param is not None:
            return {node.default_param: scope.get("input")}
        value = scope.get("input")
        return dict(value) if isinstance(value, dict) else {}

    async def call(
        self, node: CompiledNode, key: str, arguments: dict[str, Any], span: str | None = None
    ) -> tuple[ActionResult, int, float]:
        """Call the node's action under its limits, with timeout and retries.

        Never raises except ``CancelledError``: every failure is a result.
        """
        started = time.time()
        limits = self.limits[node.action_name]
        if not limits:
            return await self._attempts(node, key, arguments, started, span)
        for sem in limits:
            await sem.acquire()
        try:
            return await self._attempts(node, key, arguments, started, span)
        finally:
            for sem in limits:
                sem.release()

    async def _attempts(
        self,
        node: CompiledNode,
        key: str,
        arguments: dict[str, Any],
        started: float,
        span: str | None,
    ) -> tuple[ActionResult, int, float]:
        action = node.action
        policy = node.retry
        timeout = node.timeout
        quiet = self.executor._quiet
        if not quiet:
            self.event(EventKind.NODE_STARTED, node, key, NodeState.RUNNING, None, attempt=1)
        attempt = 1
        spent: list[Usage] = []
        traced = self.executor.tracer is not None
        call_started = 0.0
        while True:
            # A plain node's first call *is* the node span: one span per node in
            # the common case keeps tracing cheap. Retries and foreach items get
            # spans of their own, children of the node span.
            merged = attempt == 1 and span is not None and not node.render_foreach
            call = trusted(
                ActionCall,
                {
                    "call_id": span if merged and span is not None else self.next_call_id(),
                    "action": node.action_name,
                    "arguments": arguments,
                    "run_id": self.run_id,
                    "trace_id": self.trace_id,
                    "parent_id": self.parent_id if merged else span or self.parent_id,
                    "node": key,
                    "attempt": attempt,
                    "deadline": time.time() + timeout if timeout else None,
                },
            )
            ctx = ExecutionContext(self, node, key, call) if node.uses_context else UNUSED_CONTEXT
            if logs.enabled:
                logs.bind_call(call)  # this node's own task: nothing to unbind
            if traced:
                # A call that is the node's span starts with the node: no second clock read.
                call_started = started if merged else time.time()
            try:
                if timeout is None:
                    result = await action.invoke(call, ctx)
                else:
                    async with asyncio.timeout(timeout):
                        result = await action.invoke(call, ctx)
            except TimeoutError:
                result = ActionResult.failure(
                    call.call_id,
                    "Timeout",
                    f"node '{node.name}': action '{node.action_name}' "
                    f"took longer than {timeout:g}s",
                    state=ActionState.TIMEOUT,
                    retryable=policy.retry_on_timeout,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                result = crashed_result(call, action, exc)
            if ctx.child_usage is not None:
                result.usage = result.usage.add(ctx.child_usage)
            if result.state is ActionState.OK or not should_retry(policy, result, attempt):
                if traced and not merged:
                    self.trace_call(call, result, call_started, kind="call")
                break
            spent.append(result.usage)
            delay = backoff_delay(policy, attempt)
            if merged:
                call = call.model_copy(update={"call_id": new_span_id(), "parent_id": span})
            self.trace_call(call, result, call_started, kind="call", delay=delay)
            if not quiet:
                self.event(
                    EventKind.NODE_RETRYING,
                    node,
                    key,
                    NodeState.RUNNING,
                    None,
                    attempt=attempt,
                    error=result.error,
                    delay=delay,
                )
            await asyncio.sleep(delay)
            attempt += 1
        for earlier in spent:
            result.usage = result.usage.add(earlier)
        if result.usage is not NO_USAGE:
            self.tally.add(result.usage)
        if not quiet:
            state = STATE_OF_RESULT[result.state]
            self.executor.record(
                self.run_id,
                EventKind.NODE_FINISHED,
                self.prefix + node.name,
                key,
                state,
                attempt,
                result.output if state is NodeState.SUCCEEDED else None,
                result.error,
                result.usage,
                {"started_at": started, "action": node.action_name},
            )
        return result, attempt, started

    def event(
        self,
        kind: EventKind,
        node: CompiledNode,
        key: str,
        state: NodeState,
        outcome: NodeOutcome | None,
        *,
        attempt: int | None = None,
        error: ErrorInfo | None = None,
        **data: Any,
    ) -> None:
        if self.executor._quiet:
            return
        self.executor.record(
            self.run_id,
            kind,
            self.prefix + node.name,
            key,
            state,
            attempt if attempt is not None else (outcome.attempts if outcome else None),
            outcome.output if outcome and state is NodeState.SUCCEEDED else None,
            error or (outcome.error if outcome else None),
            outcome.usage if outcome and kind is EventKind.NODE_FINISHED else None,
            data,
        )
