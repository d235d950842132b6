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
    "dump_workflow": "weft.workflows",
    "run_workflow": "weft.runtime.runner",
    "resume_run": "weft.runtime.runner",
    "run_sync": "weft.runtime.runner",
    "RunResult": "weft.runtime.executor",
    "Executor": "weft.runtime.executor",
    "Journal": "weft.runtime.journal",
    "ActionRegistry": "weft.runtime.registry",
    "prepare": "weft.runtime.compiler",
    "InProcessBus": "weft.runtime.inprocess_bus",
}
_PROTOCOL_EXPORTS = (
    "ActionCall",
    "ActionContext",
    "ActionError",
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
    "ActionError",
    "ActionFailed",
    "ActionKind",
    "ActionRegistry",
    "ActionResult",
    "ActionSpec",
    "ActionState",
    "CapabilityCard",
    "DefinitionError",
    "EdgeSpec",
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
    "dump_workflow",
    "load_workflow",
    "loads_workflow",
    "prepare",
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
        ActionError,
        ActionFailed,
        ActionKind,
        ActionResult,
        ActionSpec,
        ActionState,
        CapabilityCard,
        DefinitionError,
        EdgeSpec,
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
    from weft.runtime.compiler import prepare
    from weft.runtime.executor import Executor, RunResult
    from weft.runtime.inprocess_bus import InProcessBus
    from weft.runtime.journal import Journal
    from weft.runtime.orchestrator import Orchestrator
    from weft.runtime.registry import ActionRegistry
    from weft.runtime.runner import resume_run, run_sync, run_workflow
    from weft.workflows import Workflow, dump_workflow, load_workflow, loads_workflow


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'weft' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
