"""A workflow is an action: as a node it runs inside its parent's run; elsewhere on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weft import ActionCall, RunState, Workflow, tool
from weft.protocols import ActionKind, EventKind
from weft.runtime import (
    ActionRegistry,
    Journal,
    as_action,
    compile_workflow,
    resume_run,
    run_workflow,
)
from weft.runtime.engine.execution_context import UNUSED_CONTEXT


@tool
def add(a: int, b: int = 0) -> int:
    return a + b


@tool
def echo(value: Any) -> Any:
    return value


def doubler() -> Workflow:
    inner = Workflow("doubler")
    inner.input("n", type="integer", required=True)
    inner.node("double", add, with_={"a": "${inputs.n}", "b": "${inputs.n}"})
    inner.output("value", "${double}")
    return inner


async def test_a_sub_workflows_nodes_are_journaled_under_the_calling_node(
    tmp_path: Path,
) -> None:
    outer = Workflow("outer")
    outer.node("sub", doubler(), with_={"n": 4})
    journal = Journal(tmp_path / "journal.db")
    result = await run_workflow(outer, journal=journal)
    assert result.outputs == {"sub": {"value": 8}}
    finished = {
        e.key: e.output for e in journal.events(result.run_id) if e.kind is EventKind.NODE_FINISHED
    }
    assert finished["sub/double"] == 8
    assert finished["sub"] == {"value": 8}


async def test_resuming_a_run_resumes_its_sub_workflow_where_it_stopped(
    tmp_path: Path,
) -> None:
    calls: list[str] = []
    healthy = False

    @tool
    def step(name: str) -> str:
        calls.append(name)
        if name == "late" and not healthy:
            raise RuntimeError("not yet")
        return name

    inner = Workflow("inner")
    inner.node("early", step, with_={"name": "early"})
    inner.node("late", step, after=["early"], with_={"name": "late"})
    outer = Workflow("outer")
    outer.node("sub", inner)
    journal = Journal(tmp_path / "journal.db")

    failed = await run_workflow(outer, journal=journal)
    assert failed.state is RunState.FAILED
    healthy = True
    resumed = await resume_run(failed.run_id, journal=journal, definition=outer)
    assert resumed.state is RunState.SUCCEEDED
    assert calls == ["early", "late", "late"]


async def test_a_workflow_action_called_outside_a_run_runs_on_its_own() -> None:
    action = as_action(doubler())
    call = ActionCall(action="doubler", arguments={"n": 5})
    result = await action.invoke(call, UNUSED_CONTEXT)
    assert result.ok
    assert result.output == {"value": 10}


async def test_a_workflow_action_refuses_arguments_its_inputs_do_not_declare() -> None:
    action = as_action(doubler())
    call = ActionCall(action="doubler", arguments={"m": 5})
    result = await action.invoke(call, UNUSED_CONTEXT)
    assert result.error is not None and result.error.type == "ValidationError"


def test_the_registry_turns_a_workflow_into_a_workflow_action() -> None:
    registry = ActionRegistry([doubler()])
    assert registry.get("doubler").spec.kind is ActionKind.WORKFLOW
    assert registry.get("doubler").spec.input_schema["required"] == ["n"]


def test_compiling_leaves_the_callers_registry_as_it_was() -> None:
    registry = ActionRegistry([add])
    wf = Workflow("uses-echo")
    wf.node("e", echo, with_={"value": 1})
    prepared = compile_workflow(wf, registry)
    assert "echo" in prepared.registry
    assert registry.names() == ["add"]
