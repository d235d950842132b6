"""A workflow is an action: it can be a node of another workflow, or a tool of an agent.

Inside a run, a sub-workflow executes in the same run: the context of the
calling node runs it (``SubworkflowRunner``), its nodes journaled under the
parent node's key (``parent/child``), so resuming the parent also resumes the
sub-workflow where it stopped. Called from elsewhere (an agent host, a test)
it runs on a fresh executor without a journal.

This module only wraps a compiled workflow; ``compiler.as_action`` compiles a
definition and wraps it, so compiling never waits on this module's imports.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    ActionState,
    InputError,
    RunState,
)
from weft.protocols.human_input import question_of
from weft.runtime.engine.compiled import PreparedWorkflow
from weft.runtime.engine.executor import Executor
from weft.runtime.engine.inputs import resolve_inputs
from weft.runtime.engine.outcomes import RunResult


@runtime_checkable
class SubworkflowRunner(Protocol):
    """A context that runs a sub-workflow inside its own run (``ExecutionContext`` does)."""

    async def run_subworkflow(
        self, workflow: PreparedWorkflow, inputs: dict[str, Any], call: ActionCall
    ) -> RunResult: ...


def _input_schema(prepared: PreparedWorkflow) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, decl in prepared.spec.inputs.items():
        prop: dict[str, Any] = {} if decl.type == "any" else {"type": decl.type}
        if decl.description:
            prop["description"] = decl.description
        if decl.default is not None and name not in prepared.secret_input_names:
            prop["default"] = decl.default
        if name in prepared.secret_input_names:  # a calling workflow treats it as secret
            prop["writeOnly"] = True
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

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def graph_hash(self) -> str:
        return self.prepared.graph_hash

    def with_prepared(self, prepared: PreparedWorkflow) -> WorkflowAction:
        """The same action over another preparation of its workflow (capability nodes bound)."""
        return WorkflowAction(prepared, name=self._spec.name)

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        try:
            inputs = resolve_inputs(self.prepared.spec, call.arguments)
        except InputError as exc:
            return ActionResult.failure(call.call_id, "ValidationError", str(exc))
        if isinstance(ctx, SubworkflowRunner):
            result = await ctx.run_subworkflow(self.prepared, inputs, call)
        else:
            result = await Executor().run(self.prepared, inputs)
        if result.state is RunState.SUCCEEDED:
            return ActionResult.success(call.call_id, result.outputs, result.usage)
        if result.state is RunState.NEEDS_INPUT:
            return self._waiting(call, result)
        return ActionResult.failure(
            call.call_id,
            "WorkflowFailed",
            f"workflow '{self.prepared.name}' {result.state.value}: {result.error or 'no detail'}",
            usage=result.usage,
        )

    def _waiting(self, call: ActionCall, result: RunResult) -> ActionResult:
        """The sub-workflow stopped for a person: so does this call. Its error names the
        inner keys that asked (``sub/approve``), which ``weft resume --answer`` takes;
        it is no question itself, so the answers go to the nodes that asked."""
        asked = [
            f"'{node.key}' asks {question['question']!r}"
            for node in result.nodes.values()
            if (question := question_of(node.error)) is not None
        ]
        return ActionResult.failure(
            call.call_id,
            "WorkflowNeedsInput",
            f"workflow '{self.prepared.name}' waits for answers: "
            + ("; ".join(asked) or result.error or "no detail"),
            state=ActionState.NEEDS_INPUT,
            usage=result.usage,
        )
