"""Calling a weft action outside any run: the MCP and A2A servers, the hop benchmark.

An action called from outside a workflow gets what a call needs and no more:
a context through which an agent can call other actions of the table by name
(Agent-as-Tool), with nothing journaled or traced; its result is held to the
JSON rule of weft's engine (``json_result``). A sub-workflow runs through
``children`` when given, else on weft's own executor.

(The LangGraph engine once called its nodes' actions through here; it now uses
weft's own ``NodeCalls``, so its runs are journaled and traced: ``langgraph_nodes``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from weft.protocols import (
    ActionCall,
    ActionResult,
    ActionSpec,
    idempotency_key_of,
    new_id,
)
from weft.protocols.human_input import Questions
from weft.protocols.results import json_result
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.executor import Executor
from weft.runtime.engine.outcomes import RunResult

#: Runs a sub-workflow node's workflow: ``(workflow, inputs, the node's call) -> result``.
ChildRunner = Callable[[PreparedWorkflow, dict[str, Any], ActionCall], Awaitable[RunResult]]


class LangGraphContext:
    """The ``ActionContext`` of a call made from a LangGraph node: nested calls, no journal."""

    def __init__(
        self, registry: ActionTable, call: ActionCall, children: ChildRunner | None = None
    ) -> None:
        self._registry = registry
        self._call = call
        self._children = children
        self._invoked: dict[str, int] = {}
        self._questions: Questions | None = None

    @property
    def call(self) -> ActionCall:
        return self._call

    @property
    def idempotency_key(self) -> str:
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
        """Call another action of the workflow; never raises for its failure. ``answers``
        answer the questions it asks (a team's member: ``ExecutionContext.invoke``), and
        ``resume_state`` is what it saved when it last asked; ``idempotency_key``
        its key when the caller names its work."""
        if action not in self._registry:
            return ActionResult.failure(
                new_id(), "UnknownAction", f"no action '{action}' is available"
            )
        target = self._registry.get(action)
        count = self._invoked.get(action, 0) + 1
        self._invoked[action] = count
        call = ActionCall(
            action=action,
            arguments=arguments,
            run_id=self._call.run_id,
            parent_id=self._call.call_id,
            node=self._call.node,
            deadline=self._call.deadline,
            idempotency_key=idempotency_key or f"{self.idempotency_key}>{action}#{count}",
            answers=answers,
            resume_state=resume_state,
        )
        return await invoke_action(target, call, self._registry, self._children)

    def actions(self) -> list[ActionSpec]:
        return list(self._registry.specs().values())

    def ask(self, question: str, *, choices: Sequence[Any] | None = None) -> Any:
        if self._questions is None:
            self._questions = Questions(self.call)
        return self._questions.ask(question, choices)

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        """Progress has no listener on LangGraph's engine; it is dropped."""

    async def run_subworkflow(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], call: ActionCall
    ) -> RunResult:
        """A sub-workflow node's workflow, run by ``children`` (``to_langgraph`` runs it on
        LangGraph's engine, in the same run); without it, on weft's own executor, as a
        workflow action runs outside a run."""
        if self._children is None:
            return await Executor().run(workflow, inputs)
        return await self._children(workflow, inputs, call)


async def invoke_action(
    action: Any, call: ActionCall, registry: ActionTable, children: ChildRunner | None = None
) -> ActionResult:
    """One attempt of ``call``; an exception the action raises becomes an error result."""
    try:
        result = await action.invoke(call, LangGraphContext(registry, call, children))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        result = ActionResult.from_exception(call.call_id, exc, source=call.action)
    return json_result(result, action.spec.name)
