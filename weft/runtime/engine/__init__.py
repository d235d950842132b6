"""The engine: a workflow becomes a compiled graph, then a run.

``compile_workflow`` resolves every action a workflow names and checks the
graph; ``Executor`` runs the compiled graph as a dataflow (a node starts the
moment its inputs are ready), recording each node's state in a ``Journal`` so
``resume_run`` can finish a run without repeating finished nodes.
``run_workflow`` and ``run_sync`` are the one-call front door; ``stream_workflow``
reads a run's events (LLM text included) as they happen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ActionRegistry": "weft.runtime.engine.registry",
    "ActionTable": "weft.runtime.engine.action_table",
    "CapabilityResolver": "weft.runtime.engine.capability",
    "CompiledNode": "weft.runtime.engine.compiled",
    "ExecutionContext": "weft.runtime.engine.execution_context",
    "Executor": "weft.runtime.engine.executor",
    "Journal": "weft.runtime.engine.journal",
    "Lease": "weft.runtime.engine.lease",
    "Listener": "weft.runtime.engine.executor",
    "NodeOutcome": "weft.runtime.engine.outcomes",
    "PreparedWorkflow": "weft.runtime.engine.compiled",
    "Resolution": "weft.runtime.engine.capability",
    "RouterResolver": "weft.runtime.engine.capability",
    "RunRecord": "weft.runtime.engine.journal",
    "RunResult": "weft.runtime.engine.outcomes",
    "UsageTally": "weft.runtime.engine.outcomes",
    "as_action": "weft.runtime.engine.compiler",
    "compile_workflow": "weft.runtime.engine.compiler",
    "import_object": "weft.runtime.engine.compiler",
    "load_definition": "weft.runtime.engine.compiler",
    "resolve_inputs": "weft.runtime.engine.inputs",
    "resume_run": "weft.runtime.engine.runner",
    "run_sync": "weft.runtime.engine.runner",
    "run_workflow": "weft.runtime.engine.runner",
    "RunStream": "weft.runtime.engine.run_stream",
    "stream_workflow": "weft.runtime.engine.run_stream",
}

__all__ = [
    "ActionRegistry",
    "ActionTable",
    "CapabilityResolver",
    "CompiledNode",
    "ExecutionContext",
    "Executor",
    "Journal",
    "Lease",
    "Listener",
    "NodeOutcome",
    "PreparedWorkflow",
    "Resolution",
    "RouterResolver",
    "RunRecord",
    "RunResult",
    "RunStream",
    "UsageTally",
    "as_action",
    "compile_workflow",
    "import_object",
    "load_definition",
    "resolve_inputs",
    "resume_run",
    "run_sync",
    "run_workflow",
    "stream_workflow",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.engine.action_table import ActionTable
    from weft.runtime.engine.capability import CapabilityResolver, Resolution, RouterResolver
    from weft.runtime.engine.compiled import CompiledNode, PreparedWorkflow
    from weft.runtime.engine.compiler import (
        as_action,
        compile_workflow,
        import_object,
        load_definition,
    )
    from weft.runtime.engine.execution_context import ExecutionContext
    from weft.runtime.engine.executor import Executor, Listener
    from weft.runtime.engine.inputs import resolve_inputs
    from weft.runtime.engine.journal import Journal, RunRecord
    from weft.runtime.engine.lease import Lease
    from weft.runtime.engine.outcomes import NodeOutcome, RunResult, UsageTally
    from weft.runtime.engine.registry import ActionRegistry
    from weft.runtime.engine.run_stream import RunStream, stream_workflow
    from weft.runtime.engine.runner import resume_run, run_sync, run_workflow
