"""The checks of a workflow's graph that need its plan or its resolved actions.

``workflows.validate`` checks a definition against the actions' specs; what is
left for the compiler, once every action is resolved and the graph planned, is
here: a loop feeds the outside only from its closing node, and every action a
node's arguments name (a team's members) exists. Each raises one
``DefinitionError`` with every problem located at its node and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weft.protocols import DefinitionError, Location, WorkflowSpec, locate
from weft.protocols.hints import did_you_mean
from weft.protocols.references import referenced_actions_of
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.compiled import CompiledNode
from weft.workflows import GraphPlan

__all__ = ["check_loop_exits", "check_referenced_actions"]


def check_referenced_actions(
    spec: WorkflowSpec, nodes: dict[str, CompiledNode], registry: ActionTable
) -> None:
    """Every action a node's arguments name (a team's members, a cluster's synthesizer)
    exists, so ``weft validate`` and the start of a run catch a misspelt member at its
    line instead of the team failing when it forms.

    Names still templated (``${inputs.members}``) are known only at run time and
    skipped (``referenced_actions_of``); a distributed run adds the agents' actions
    to ``registry`` before compiling, so remote members count.
    """
    known = set(registry.names())
    problems: list[tuple[str, Location]] = []
    for name, node in nodes.items():
        for referenced in referenced_actions_of(node.action, node.spec.with_):
            if referenced in known:
                continue
            hint = did_you_mean(referenced, known)
            path = _path_of(node.spec.with_, referenced) or ()
            field = "with" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            where = locate(spec.source, ("nodes", name, "with", *path), node=name, field_name=field)
            problems.append((f"'{referenced}' is no action of this workflow{hint}", where))
    if problems:
        raise DefinitionError(problems)


def _path_of(value: Any, wanted: str) -> tuple[str | int, ...] | None:
    """Where in ``value`` (a node's ``with:``) the string ``wanted`` (or ``llm:wanted``)
    is first written, as keys and indexes; None when it is not written as such."""
    if isinstance(value, str):
        return () if value in (wanted, f"llm:{wanted}") else None
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        found = _path_of(item, wanted)
        if found is not None:
            return (key, *found)
    return None


def check_loop_exits(spec: WorkflowSpec, plan: GraphPlan) -> None:
    """Only a loop's closing node may feed nodes outside the loop.

    Another body node would hand on a draft that a later iteration replaces;
    rather than guess which version the outside wants, we refuse it.
    """
    problems: list[tuple[str, Location]] = []
    for loop in plan.loops:
        body = set(loop.body)
        for member in loop.body:
            if member == loop.source:
                continue
            for target, _edge in plan.outgoing[member]:
                if target not in body:
                    problems.append(
                        (
                            f"node '{target}' reads '{member}', which is inside the loop "
                            f"{loop.target} .. {loop.source}; read '{loop.source}' instead "
                            "(only the loop's last node may feed nodes outside it)",
                            locate(spec.source, ("nodes", target, "after"), node=target),
                        )
                    )
    if problems:
        raise DefinitionError(problems)
