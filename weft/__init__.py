"""weft: a multi-agent orchestration runtime with graph workflows.

The public API is importable from here; modules load lazily so that the CLI
and small scripts start fast::

    import weft

    @weft.tool
    def shout(text: str) -> str:
        return text.upper()

    wf = weft.Workflow("hello")
    wf.node("shout", shout, with_={"text": "${inputs.text}"})
    result = weft.run_sync(wf, {"text": "hi"})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "tool": "weft.agents",
    "FunctionAction": "weft.agents",
    "LLMAgent": "weft.agents",
    "Orchestrator": "weft.runtime.orchestrator",
    "Workflow": "weft.workflows",
    "load_workflow": "weft.workflows",
    "loads_workflow": "weft.workflows",
    "dumps_workflow": "weft.workflows",
    "run_workflow": "weft.runtime.engine.runner",
    "resume_run": "weft.runtime.engine.runner",
    "run_sync": "weft.runtime.engine.runner",
    "RunResult": "weft.runtime.engine.executor",
    "Executor": "weft.runtime.engine.executor",
    "Journal": "weft.runtime.engine.journal",
    "ActionRegistry": "weft.runtime.engine.registry",
    "compile_workflow": "weft.runtime.engine.compiler",
    "InProcessBus": "weft.runtime.bus.inprocess",
}
_PROTOCOL_EXPORTS = (
    "ActionCall",
    "ActionContext",
    "ErrorInfo",
    "ActionFailed",
    "ActionKind",
    "ActionResult",
    "ActionSpec",
    "ActionState",
    "CapabilityCard",
    "DefinitionError",
    "EdgeSpec",
    "InputError",
    "JoinSpec",
    "NodeState",
    "ResumeMismatchError",
    "RetryPolicy",
    "RunNotFoundError",
    "RunState",
    "Usage",
    "WeftError",
    "WorkflowSpec",
)
_EXPORTS.update(dict.fromkeys(_PROTOCOL_EXPORTS, "weft.protocols"))

__all__ = [
    "ActionCall",
    "ActionContext",
    "ActionFailed",
    "ActionKind",
    "ActionRegistry",
    "ActionResult",
    "ActionSpec",
    "ActionState",
    "CapabilityCard",
    "DefinitionError",
    "EdgeSpec",
    "ErrorInfo",
    "Executor",
    "FunctionAction",
    "InProcessBus",
    "InputError",
    "JoinSpec",
    "Journal",
    "LLMAgent",
    "NodeState",
    "Orchestrator",
    "ResumeMismatchError",
    "RetryPolicy",
    "RunNotFoundError",
    "RunResult",
    "RunState",
    "Usage",
    "WeftError",
    "Workflow",
    "WorkflowSpec",
    "compile_workflow",
    "dumps_workflow",
    "load_workflow",
    "loads_workflow",
    "resume_run",
    "run_sync",
    "run_workflow",
    "tool",
]

if TYPE_CHECKING:  # pragma: no cover
    from weft.agents import FunctionAction, LLMAgent, tool
    from weft.protocols import (
        ActionCall,
        ActionContext,
        ActionFailed,
        ActionKind,
        ActionResult,
        ActionSpec,
        ActionState,
        CapabilityCard,
        DefinitionError,
        EdgeSpec,
        ErrorInfo,
        InputError,
        JoinSpec,
        NodeState,
        ResumeMismatchError,
        RetryPolicy,
        RunNotFoundError,
        RunState,
        Usage,
        WeftError,
        WorkflowSpec,
    )
    from weft.runtime.bus.inprocess import InProcessBus
    from weft.runtime.engine.compiler import compile_workflow
    from weft.runtime.engine.executor import Executor, RunResult
    from weft.runtime.engine.journal import Journal
    from weft.runtime.engine.registry import ActionRegistry
    from weft.runtime.engine.runner import resume_run, run_sync, run_workflow
    from weft.runtime.orchestrator import Orchestrator
    from weft.workflows import Workflow, dumps_workflow, load_workflow, loads_workflow


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'weft' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
