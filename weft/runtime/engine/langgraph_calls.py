"""Calling a weft node's action from inside a LangGraph node (``to_langgraph``).

On LangGraph's engine there is no ``Executor``, so the node's call gets what
the executor would have given it, and no more: a context through which an
agent can call other actions of the workflow by name (Agent-as-Tool), the
node's timeout, and its retry policy with weft's backoff (``RetryPolicy.delay``)
and weft's rule for what is worth retrying (``retry.should_retry``), the
concurrency limits weft's engine holds around a call (``call_limits``). The
result is held to the same JSON rule as on weft's engine (``json_result``).
Nothing is journaled or traced: that is what weft's own engine is for. A
sub-workflow node runs its workflow through ``children`` (on LangGraph's
engine too, from ``to_langgraph``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import (
    ActionCall,
    ActionResult,
    ActionSpec,
    ActionState,
    idempotency_key_of,
    new_id,
)
from weft.protocols.actions import new_call_id
from weft.protocols.results import json_result
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.compiled import CompiledNode, PreparedWorkflow
from weft.runtime.engine.executor import Executor
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.engine.retry import should_retry

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

    @property
    def call(self) -> ActionCall:
        return self._call

    @property
    def idempotency_key(self) -> str:
        return idempotency_key_of(self._call)

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        """Call another action of the workflow; never raises for its failure."""
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
            idempotency_key=f"{self.idempotency_key}>{action}#{count}",
        )
        return await invoke_action(target, call, self._registry, self._children)

    def actions(self) -> list[ActionSpec]:
        return list(self._registry.specs().values())

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


async def call_node(
    node: CompiledNode,
    key: str,
    arguments: dict[str, Any],
    run_id: str,
    registry: ActionTable,
    children: ChildRunner | None = None,
) -> ActionResult:
    """The node's call with its timeout and retries, as weft's ``NodeCalls`` makes it."""
    attempt = 1
    while True:
        deadline = None if node.timeout is None else time.time() + node.timeout
        call = ActionCall(
            call_id=new_call_id(),
            action=node.action_name,
            arguments=arguments,
            run_id=run_id,
            node=key,
            attempt=attempt,
            deadline=deadline,
        )
        try:
            async with asyncio.timeout(node.timeout):
                result = await invoke_action(node.action, call, registry, children)
        except TimeoutError:
            result = ActionResult.failure(
                call.call_id,
                "Timeout",
                f"node '{node.name}': action '{node.action_name}' took longer than "
                f"{node.timeout:g}s",
                state=ActionState.TIMEOUT,
                retryable=node.retry.retry_on_timeout,
            )
        if result.ok or not should_retry(node.retry, result, attempt):
            return result
        await asyncio.sleep(node.retry.delay(attempt))
        attempt += 1


def call_limits(workflow: PreparedWorkflow) -> dict[str, tuple[asyncio.Semaphore, ...]]:
    """Per action, the semaphores its node calls hold, as on weft's engine: the workflow's
    ``concurrency``, and the action's own (``action_concurrency``, else its card's
    ``max_concurrency``)."""
    spec = workflow.spec
    shared = (asyncio.Semaphore(spec.concurrency),) if spec.concurrency else ()
    limits: dict[str, tuple[asyncio.Semaphore, ...]] = {}
    for node in workflow.nodes.values():
        name = node.action_name
        card = node.action.spec.card
        own = spec.action_concurrency.get(name) or (card.max_concurrency if card else None)
        if name not in limits:
            limits[name] = (*shared, asyncio.Semaphore(own)) if own else shared
    return limits


@dataclass(frozen=True)
class RunScope:
    """What the calls of one (sub-)workflow run on LangGraph's engine share.

    ``prefix`` names a sub-workflow's calls inside its parent's run
    (``{parent node key}/``), as execution keys do on weft's engine; ``limits``
    are ``call_limits``.
    """

    run_id: str
    registry: ActionTable
    prefix: str = ""
    children: ChildRunner | None = None
    limits: Mapping[str, tuple[asyncio.Semaphore, ...]] = field(default_factory=dict)

    async def call(
        self,
        node: CompiledNode,
        key: str,
        arguments: dict[str, Any],
        limit: asyncio.Semaphore | None = None,
    ) -> ActionResult:
        """``call_node`` under this run's key prefix, holding ``limit`` (a foreach's) and
        the action's limits."""
        async with AsyncExitStack() as held:
            for semaphore in (*((limit,) if limit else ()), *self.limits.get(node.action_name, ())):
                await held.enter_async_context(semaphore)
            return await call_node(
                node, self.prefix + key, arguments, self.run_id, self.registry, self.children
            )

    async def invoke(self, action: Any, call: ActionCall) -> ActionResult:
        """``invoke_action`` in this run."""
        return await invoke_action(action, call, self.registry, self.children)
