"""The ``ActionContext`` an action receives when a workflow node calls it.

Through it an action calls other actions by name (Agent-as-Tool), as children
of its own call: they share the run and trace, their usage is added to the
caller's, and each is a span whose parent is the caller's span.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from weft.protocols import (
    Action,
    ActionCall,
    ActionResult,
    ActionSpec,
    EventKind,
    RunEvent,
    Usage,
    new_id,
)
from weft.runtime.engine.compiler import CompiledNode
from weft.runtime.support import logging as logs
from weft.runtime.tracing.spans import SpanRecord, new_span_id

if TYPE_CHECKING:
    from weft.runtime.engine.node_calls import NodeCalls


class ExecutionContext:
    """The ``ActionContext`` given to an action called by a workflow node."""

    __slots__ = ("_call", "child_usage", "execution", "key", "node")

    def __init__(
        self, execution: NodeCalls, node: CompiledNode, key: str, call: ActionCall
    ) -> None:
        self.execution = execution
        self.node = node
        self.key = key
        self._call = call
        self.child_usage: Usage | None = None

    @property
    def call(self) -> ActionCall:
        return self._call

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        """Call another action as a child of this call; never raises for its failure."""
        registry = self.execution.workflow.registry
        if action not in registry:
            return ActionResult.failure(
                new_id(), "UnknownAction", f"no action '{action}' is available to '{self.key}'"
            )
        target = registry.get(action)
        call = ActionCall(
            action=action,
            arguments=arguments,
            run_id=self._call.run_id,
            trace_id=self._call.trace_id,
            parent_id=self._call.call_id,
            node=self.key,
            deadline=self._call.deadline,
        )
        child = ExecutionContext(self.execution, self.node, f"{self.key}>{action}", call)
        started = time.time()
        bound = logs.bind_call(call) if logs.enabled else None
        try:
            result = await target.invoke(call, child)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = crashed_result(call, target, exc)
        finally:
            if bound is not None:
                logs.unbind(bound)
        self.execution.trace_call(call, result, started, kind="call")
        spent = result.usage if child.child_usage is None else result.usage.add(child.child_usage)
        self.child_usage = spent if self.child_usage is None else self.child_usage.add(spent)
        return result

    def record_span(self, span: Mapping[str, Any]) -> None:
        """Record a span an action measured itself (an LLM request), as a child of its call.

        The agents layer cannot import the runtime's tracing, so an action
        hands a plain mapping: name, kind, start, end, status, attributes.
        """
        tracer = self.execution.executor.tracer
        if tracer is None:
            return
        tracer.record(
            SpanRecord(
                trace_id=self._call.trace_id or self.execution.trace_id,
                span_id=new_span_id(),
                parent_id=self._call.call_id,
                name=str(span["name"]),
                kind=str(span.get("kind", "llm")),
                start=float(span["start"]),
                end=float(span["end"]),
                status=str(span.get("status", "ok")),
                run_id=self.execution.run_id,
                node=self.key,
                attributes=dict(span.get("attributes", {})),
            )
        )

    def actions(self) -> list[ActionSpec]:
        return [a for name, a in self.execution.workflow.registry.specs().items()]

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        self.execution.executor.emit(
            RunEvent(
                run_id=self.execution.run_id,
                kind=EventKind.PROGRESS,
                at=time.time(),
                node=self.node.name,
                key=self.key,
                attempt=self._call.attempt,
                data={"message": message, "fraction": fraction, **data},
            )
        )


def crashed_result(call: ActionCall, action: Action, exc: BaseException) -> ActionResult:
    return ActionResult.failure(
        call.call_id,
        "ActionCrashed",
        f"action '{action.spec.name}' raised {type(exc).__name__} instead of returning a "
        f"result: {exc}",
    )


class UnusedContext:
    """Handed to actions that declared they never read their context (``uses_context``).

    Making a real context per call costs more than many tools' whole work; an
    action that declared no use and then calls a method gets a clear error.
    """

    __slots__ = ()
    child_usage: Usage | None = None

    def _refuse(self) -> Any:
        raise RuntimeError(
            "this action declared it takes no ActionContext (uses_context is False) "
            "but used one; give the function an ActionContext parameter"
        )

    @property
    def call(self) -> ActionCall:
        return self._refuse()  # type: ignore[no-any-return]

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        return self._refuse()  # type: ignore[no-any-return]

    def actions(self) -> list[ActionSpec]:
        return self._refuse()  # type: ignore[no-any-return]

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        self._refuse()


UNUSED_CONTEXT = UnusedContext()
