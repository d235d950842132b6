"""The ``ActionContext`` an action receives when a workflow node calls it.

Through it an action calls other actions by name (Agent-as-Tool), as children
of its own call: they share the run and trace, their usage is added to the
caller's, and each is a span whose parent is the caller's span. A workflow
called as an action runs through it too (``run_subworkflow``), inside the
same run, so its nodes are journaled and resumed with the parent's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from weft.protocols import (
    ActionCall,
    ActionResult,
    ActionSpec,
    EventKind,
    RunEvent,
    Usage,
    idempotency_key_of,
    new_id,
)
from weft.protocols.human_input import Questions
from weft.protocols.results import json_result
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.compiled import CompiledNode, PreparedWorkflow
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.support import logging as logs
from weft.runtime.support.redaction import register_arguments
from weft.runtime.support.secrets import secret_parameters
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id


class CallSite(Protocol):
    """What a context needs from the execution whose node it serves (``NodeCalls``)."""

    @property
    def registry(self) -> ActionTable: ...

    @property
    def tracer(self) -> Tracer | None: ...

    @property
    def run_id(self) -> str: ...

    @property
    def trace_id(self) -> str: ...

    def emit(self, event: RunEvent) -> None: ...

    def trace_call(
        self,
        call: ActionCall,
        result: ActionResult,
        started: float,
        *,
        kind: str,
        delay: float | None = None,
    ) -> None: ...

    async def run_subworkflow(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], *, prefix: str, parent_id: str
    ) -> RunResult: ...


class ExecutionContext:
    """The ``ActionContext`` given to an action called by a workflow node."""

    __slots__ = ("_call", "_invoked", "_questions", "child_usage", "key", "node", "site")

    def __init__(self, site: CallSite, node: CompiledNode, key: str, call: ActionCall) -> None:
        self.site = site
        self.node = node
        self.key = key
        self._call = call
        #: Usage of the calls this action made through ``invoke``, added to its own.
        self.child_usage: Usage | None = None
        #: How many times ``invoke`` called each action: the n-th call's idempotency key.
        self._invoked: dict[str, int] | None = None
        #: The questions the action asked (``ask``), made when it first asks.
        self._questions: Questions | None = None

    @property
    def call(self) -> ActionCall:
        return self._call

    @property
    def idempotency_key(self) -> str:
        """``{run}:{node key}`` for a node's call (``ActionContext.idempotency_key``)."""
        return idempotency_key_of(self._call)

    async def invoke(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        answers: tuple[Any, ...] = (),
        resume_state: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """Call another action as a child of this call; never raises for its failure.

        ``answers`` answer the questions the child asks (``ActionCall.answers``): a
        team hands its member the answers the team's own call was resumed with.
        ``resume_state`` is the state the child saved when it last asked
        (``ActionResult.resume_state``), so it goes on where it stopped.
        ``idempotency_key`` names the child's work when the caller can say what it
        is (an agent's tool call: the same on every resume); else it is counted.
        """
        registry = self.site.registry
        if action not in registry:
            return ActionResult.failure(
                new_id(), "UnknownAction", f"no action '{action}' is available to '{self.key}'"
            )
        target = registry.get(action)
        register_arguments(arguments, secret_parameters(target.spec.input_schema))
        call = ActionCall(
            action=action,
            arguments=arguments,
            run_id=self._call.run_id,
            trace_id=self._call.trace_id,
            parent_id=self._call.call_id,
            node=self.key,
            deadline=self._call.deadline,
            idempotency_key=idempotency_key or self._child_key(action),
            answers=answers,
            resume_state=resume_state,
        )
        child = ExecutionContext(self.site, self.node, f"{self.key}>{action}", call)
        started = time.time()
        bound = logs.bind_call(call) if logs.enabled else None
        try:
            result = await target.invoke(call, child)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = ActionResult.from_exception(call.call_id, exc, source=action)
        finally:
            if bound is not None:
                logs.unbind(bound)
        result = json_result(result, target.spec.name)  # results are JSON, for children too
        self.site.trace_call(call, result, started, kind="call")
        spent = result.usage if child.child_usage is None else result.usage.add(child.child_usage)
        self.child_usage = spent if self.child_usage is None else self.child_usage.add(spent)
        return result

    def _child_key(self, action: str) -> str:
        """``{own key}>{action}``, then ``#2``, ``#3``... for further calls of the same action."""
        invoked = self._invoked if self._invoked is not None else {}
        self._invoked = invoked
        count = invoked[action] = invoked.get(action, 0) + 1
        key = f"{self.idempotency_key}>{action}"
        return key if count == 1 else f"{key}#{count}"

    async def run_subworkflow(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], call: ActionCall
    ) -> RunResult:
        """Run ``workflow`` as this call's work, inside the current run.

        Its nodes are keyed under this node's (``parent/child``), so the run's
        journal records them and a resume finds them; their spans are children
        of ``call``'s. Used by ``workflow_action.WorkflowAction``.
        """
        return await self.site.run_subworkflow(
            workflow, inputs, prefix=f"{self.key}/", parent_id=call.call_id
        )

    def record_span(self, span: Mapping[str, Any]) -> None:
        """Record a span an action measured itself (an LLM request), as a child of its call.

        The agents layer cannot import the runtime's tracing, so an action
        hands a plain mapping: name, kind, start, end, status, attributes.
        A remote call passing on the spans its agent recorded also gives
        ``span_id``, ``parent_id`` and ``agent``, so that they keep their tree.
        """
        tracer = self.site.tracer
        if tracer is None:
            return
        tracer.record(
            SpanRecord(
                trace_id=self._call.trace_id or self.site.trace_id,
                span_id=span.get("span_id") or new_span_id(),
                parent_id=span.get("parent_id") or self._call.call_id,
                name=str(span["name"]),
                kind=str(span.get("kind", "llm")),
                start=float(span["start"]),
                end=float(span["end"]),
                status=str(span.get("status", "ok")),
                run_id=self.site.run_id,
                node=self.key,
                agent=span.get("agent"),
                attributes=dict(span.get("attributes", {})),
            )
        )

    def actions(self) -> list[ActionSpec]:
        return list(self.site.registry.specs().values())

    def ask(self, question: str, *, choices: Sequence[Any] | None = None) -> Any:
        if self._questions is None:
            self._questions = Questions(self.call)
        return self._questions.ask(question, choices)

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        self.site.emit(
            RunEvent(
                run_id=self.site.run_id,
                kind=EventKind.PROGRESS,
                at=time.time(),
                node=self.node.name,
                key=self.key,
                attempt=self._call.attempt,
                data={"message": message, "fraction": fraction, **data},
            )
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

    @property
    def idempotency_key(self) -> str:
        return self._refuse()  # type: ignore[no-any-return]

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        return self._refuse()  # type: ignore[no-any-return]

    def actions(self) -> list[ActionSpec]:
        return self._refuse()  # type: ignore[no-any-return]

    def ask(self, question: str, *, choices: Sequence[Any] | None = None) -> Any:
        self._refuse()

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        self._refuse()


UNUSED_CONTEXT = UnusedContext()
