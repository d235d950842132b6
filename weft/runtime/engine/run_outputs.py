"""A run's declared (or sink) outputs, rendered once its nodes are done, for both engines.

A declared output that names a node which did not succeed (a branch not
taken, a node that failed or waits for a person) is ``None``: there is
nothing to report, and the run's state says why. One whose nodes did succeed
but whose path cannot be read (``${verse.output}`` when ``verse`` answered
a string: a node's reference is its output itself) is a mistake in the
workflow, not an absence. It is ``None`` too, since the nodes' work is done
and journaled and must not be lost over a typo in ``outputs:``, but the run
says so: one line in ``RunResult.warnings`` and in the log, naming the
output and what could not be read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from weft.runtime.engine.compiled import PreparedWorkflow
from weft.workflows.expressions import ExpressionError, references_in

log = logging.getLogger("weft.run")


def render_outputs(
    prepared: PreparedWorkflow,
    scope: Mapping[str, Any],
    succeeded: Callable[[str], bool],
    *,
    run_succeeded: bool,
) -> tuple[dict[str, Any], list[str]]:
    """``(outputs, warnings)`` of a run whose node outputs and inputs are in ``scope``;
    ``succeeded(node)`` says whether a sink ran (an undeclared output is a sink's).

    A run that succeeded with no end node run (each was skipped: no ``when`` on the
    way held) is warned about too: it succeeded with nothing to show, which a
    router whose model answered none of the expected labels makes silently."""
    declared = prepared.spec.outputs
    outputs: dict[str, Any] = {}
    warnings: list[str] = []
    for name, render in prepared.outputs.items():
        if not declared and not succeeded(name):
            continue  # a sink that did not run has no output to report
        try:
            outputs[name] = render(scope)
        except ExpressionError as exc:
            outputs[name] = None
            if name in declared and _all_there(declared[name], scope):
                warnings.append(f"output '{name}' is null: {exc}")
    if run_succeeded and not declared and not outputs and prepared.plan.sinks:
        # every end node was skipped (no condition held): "succeeded" with nothing to show
        ends = ", ".join(f"'{sink}'" for sink in prepared.plan.sinks)
        warnings.append(
            f"no end node ran ({ends}): every branch to them was skipped, so the run has no "
            "outputs (a 'when' that no answer matched?)"
        )
    for line in warnings:
        log.warning("workflow %s: %s", prepared.name, line)
    return outputs, warnings


def _all_there(template: Any, scope: Mapping[str, Any]) -> bool:
    """Whether every node or input ``template`` refers to is in ``scope`` (so what failed
    is the path into it, not its absence)."""
    try:
        roots = {path[0] for path in references_in(template)}
    except ExpressionError:
        return False
    return all(root in scope for root in roots)
