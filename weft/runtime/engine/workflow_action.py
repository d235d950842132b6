"""A workflow is an action: it can be a node of another workflow, or a tool of an agent.

Inside a run, a sub-workflow executes in the same run: its nodes are journaled
under the parent node's key (``parent/child``), so resuming the parent also
resumes the sub-workflow where it stopped. Called from elsewhere it runs on a
fresh executor without a journal.
"""

from __future__ import annotations

from typing import Any

from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    InputError,
    RunState,
)
from weft.runtime.engine.compiler import PreparedWorkflow
from weft.runtime.engine.inputs import resolve_inputs


def _input_schema(prepared: PreparedWorkflow) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, decl in prepared.spec.inputs.items():
        prop: dict[str, Any] = {} if decl.type == "any" else {"type": decl.type}
        if decl.description:
            prop["description"] = decl.description
        if decl.default is not None:
            prop["default"] = decl.default
        properties[name] = prop
        if decl.required:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if prepared.spec.inputs:
        schema["additionalProperties"] = False
    return schema


class WorkflowAction:
    """Wraps a prepared workflow in the action interface."""

    def __init__(self, prepared: PreparedWorkflow, *, name: str | None = None) -> None:
        self.prepared = prepared
        self._spec = ActionSpec(
            name=name or prepared.spec.name,
            version=prepared.spec.version,
            kind=ActionKind.WORKFLOW,
            description=prepared.spec.description,
            input_schema=_input_schema(prepared),
            output_schema={"type": "object"},
        )

    @classmethod
    def from_definition(cls, definition: Any, *, name: str | None = None) -> WorkflowAction:
        from weft.runtime.engine.compiler import compile_workflow

        return cls(compile_workflow(definition), name=name)

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def graph_hash(self) -> str:
        return self.prepared.graph_hash

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        from weft.runtime.engine.executor import ExecutionContext, Executor
        from weft.runtime.engine.scheduler import Execution

        try:
            inputs = resolve_inputs(self.prepared.spec, call.arguments)
        except InputError as exc:
            return ActionResult.failure(call.call_id, "ValidationError", str(exc))
        if isinstance(ctx, ExecutionContext):
            parent = ctx.execution
            execution = Execution(
                parent.executor,
                self.prepared,
                inputs,
                parent.run_id,
                prefix=f"{ctx.key}/",
                cache=parent.cache,
                trace_id=parent.trace_id,
                parent_id=call.call_id,
            )
            state, outputs, error = await execution.execute()
            usage = execution.tally.total()
        else:
            result = await Executor().run(self.prepared, inputs)
            state, outputs, error, usage = result.state, result.outputs, result.error, result.usage
        if state is RunState.SUCCEEDED:
            return ActionResult.success(call.call_id, outputs, usage)
        return ActionResult.failure(
            call.call_id,
            "WorkflowFailed",
            f"workflow '{self.prepared.name}' {state.value}: {error or 'no detail'}",
            usage=usage,
        )
