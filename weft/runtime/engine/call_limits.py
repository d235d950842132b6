"""The concurrency limits a node's call must hold, per action, made once per execution.

Read by ``node_calls.NodeCalls.call`` before every call; built here, out of
the hot path, from the executor's shared limits, the workflow's and each
action's own.
"""

from __future__ import annotations

import asyncio

from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.services import ExecutorServices

__all__ = ["call_limits"]


def call_limits(
    services: ExecutorServices, workflow: PreparedWorkflow
) -> dict[str, tuple[asyncio.Semaphore, ...]]:
    """Per action, the semaphores a call must hold: global, workflow, and the action's own.

    An action's own limit is the workflow's ``action_concurrency`` for it, or
    else its capability card's ``max_concurrency``.
    """
    spec = workflow.spec
    own_limit = asyncio.Semaphore(spec.concurrency) if spec.concurrency else None
    shared = (services.global_limit, own_limit)
    limits: dict[str, tuple[asyncio.Semaphore, ...]] = {}
    for node in workflow.nodes.values():
        name = node.action_name
        if name in limits:
            continue
        declared = spec.action_concurrency.get(name)
        card = node.action.spec.card
        if declared is None and card is not None:
            declared = card.max_concurrency
        own = services.action_limit(f"{workflow.name}/{name}", declared)
        limits[name] = tuple(sem for sem in (*shared, own) if sem is not None)
    return limits
