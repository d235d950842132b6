"""An ask given a workflow (``ask(task, workflow=FILE)``, ``weft ask --workflow``).

It plans nothing: the workflow runs with the task as its ``task`` input (or
its only input; ``task_inputs``). Its answer (``fixed_answer``) is the
workflow's output (its only output, else all of them), and ``results`` are
its nodes' outputs, as a planned ask's are its subtasks'. An ask its budget
stopped has no run result: its ``results`` are then the nodes that finished
before the stop, as the budget watch kept them (what the ask paid for, as a
planned ask keeps its finished subtasks' results), in the workflow's order,
with a note that says so. A resume of such an ask (``weft resume``) ends
with the same kind of answer (``workflow_answer``, ``workflow_ask``).
"""

from __future__ import annotations

import time
from typing import Any

from weft.protocols import RunState, Usage, WeftError
from weft.runtime.engine.compiler import PreparedWorkflow
from weft.runtime.engine.inputs import resolve_inputs
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.orchestrator.answer import (
    Answer,
    answer_error,
    budget_notes,
    questions_of,
)
from weft.runtime.orchestrator.run_support import BudgetWatch

__all__ = ["fixed_answer", "task_inputs", "workflow_answer"]


def task_inputs(prepared: PreparedWorkflow, task: str) -> dict[str, Any]:
    """The workflow's inputs for ``task``: its ``task`` input, or its only input, gets it.

    Raises ``WeftError`` for a workflow with several inputs and none named ``task``.
    """
    declared = list(prepared.spec.inputs)
    if "task" in declared:
        given = {"task": task}
    elif len(declared) == 1:
        given = {declared[0]: task}
    elif not declared:
        given = {}
    else:
        raise WeftError(
            f"workflow '{prepared.name}' has inputs {', '.join(declared)}; weft ask passes "
            "the task as input 'task' (declare it)"
        )
    return resolve_inputs(prepared.spec, given)


def fixed_answer(
    prepared: PreparedWorkflow,
    run_id: str,
    started: float,
    result: RunResult | None,
    stopped: str | None,
    usage: Usage,
    watch: BudgetWatch,
) -> Answer:
    """The ``Answer`` of a workflow ask: see the module docstring."""
    order = list(prepared.plan.order)
    return workflow_answer(
        prepared.name, order, len(prepared.nodes), run_id, started, result, stopped, usage, watch
    )


def workflow_answer(
    name: str,
    order: list[str],
    total: int | None,
    run_id: str,
    started: float,
    result: RunResult | None,
    stopped: str | None,
    usage: Usage,
    watch: BudgetWatch,
) -> Answer:
    """The ``Answer`` of the run of workflow ``name`` (its top-level nodes in ``order``,
    ``total`` of them, None: unknown); ``result`` None when its budget ``stopped`` it."""
    answer: Any = None
    if result is not None and result.ok:
        outputs = result.outputs
        answer = next(iter(outputs.values())) if len(outputs) == 1 else outputs
    if result is None:  # stopped by its budget: what finished, in the workflow's order
        done = [n for n in order if n in watch.outputs]
        done += [n for n in watch.outputs if n not in done]
        results = {n: watch.outputs[n] for n in done}
    else:
        results = {n: o.output for n, o in result.nodes.items() if o.output is not None}
    return Answer(
        answer=answer,
        run_id=run_id,
        state=result.state if result is not None else RunState.CANCELLED,
        error=answer_error(result, stopped),
        questions=questions_of(result),
        results=results,
        usage=usage,
        notes=_notes(name, total, stopped, watch, results),
        duration_s=time.time() - started,
    )


def _notes(
    name: str, total: int | None, stopped: str | None, watch: BudgetWatch, results: dict[str, Any]
) -> list[str]:
    """What the answer says about its budget: as a planned ask's, of nodes, not subtasks."""
    if stopped is None:
        return budget_notes(None, None, watch)
    if not results:
        return []
    which = (
        f"{len(results)}"
        if total is None
        else f"all {total}"
        if len(results) >= total
        else f"{len(results)} of {total}"
    )
    return [
        f"the budget stopped the ask after {which} node(s) of workflow '{name}' "
        "finished, before its outputs were made: their results are kept as they are"
    ]
