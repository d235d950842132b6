"""The ``on_plan`` hook: what the orchestrator tells a watcher before the run starts.

A watcher (``weft ask``'s live view) gets the accepted plan, its routes
(subtask id -> action) and, since FoA clusters were added, the clusters the
run will have: cluster node (``channel_<id>``) -> the subtask ids it runs, in
plan order; empty when no subtask is clustered. A watcher that knows the
membership need not guess it from the grouping rule.

Hooks written for the first form, ``on_plan(plan, routes)``, keep working: a
hook is given the clusters only when it takes a third positional argument
(or ``*args``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from weft.runtime.orchestrator.plan import Plan

#: ``on_plan(plan, routes)`` or ``on_plan(plan, routes, clusters)``.
PlanHook = Callable[..., None]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def takes_clusters(hook: Callable[..., Any]) -> bool:
    """Whether ``hook`` can be called with a third positional argument (the clusters).

    A callable whose signature cannot be read (some builtins) is called the
    first way, with two arguments.
    """
    try:
        parameters = list(inspect.signature(hook).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    return sum(p.kind in _POSITIONAL for p in parameters) >= 3


def notify_plan(
    hook: PlanHook, plan: Plan, routes: dict[str, str], clusters: dict[str, list[str]]
) -> None:
    """Call ``hook`` with the plan, its routes and, if it takes them, its clusters."""
    if takes_clusters(hook):
        hook(plan, routes, clusters)
    else:
        hook(plan, routes)
