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

``_PUBLIC`` is the one list of public names, grouped by the package that
defines them; ``__all__`` is derived from it. The ``TYPE_CHECKING`` imports
repeat it for type checkers only (``name as name`` marks a re-export), and
``tests/test_public_api.py`` fails when the two disagree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC: dict[str, tuple[str, ...]] = {
    # data that crosses every boundary, and the exceptions a user can catch
    "weft.protocols": (
        "ActionCall",
        "ActionContext",
        "ActionKind",
        "ActionResult",
        "ActionSpec",
        "ActionState",
        "CapabilityCard",
        "EdgeSpec",
        "ErrorInfo",
        "JoinSpec",
        "NodeState",
        "RetryPolicy",
        "RunState",
        "Usage",
        "WorkflowSpec",
        "WeftError",
        "ActionFailed",
        "BusError",
        "CallTimeoutError",
        "DefinitionError",
        "InputError",
        "NeedsInput",
        "PublishRefusedError",
        "ResumeMismatchError",
        "RunFailedError",
        "RunInProgressError",
        "RunNotFoundError",
        "text_delta",
    ),
    # actions: a typed function, an LLM agent; the threads plain functions run in
    "weft.agents": (
        "FunctionAction",
        "LLMAgent",
        "from_langgraph",
        "from_mcp",
        "from_mcp_async",
        "McpServerError",
        "set_worker_threads",
        "tool",
    ),
    # workflows written in Python or YAML
    "weft.workflows": (
        "Workflow",
        "dumps_workflow",
        "load_workflow",
        "loads_workflow",
    ),
    # compiling, running, journaling and resuming a workflow
    "weft.runtime.engine": (
        "ActionRegistry",
        "Executor",
        "Journal",
        "RunResult",
        "compile_workflow",
        "resume_run",
        "run_sync",
        "run_workflow",
        "stream_workflow",
    ),
    # the message bus: in-process or MQTT v5
    "weft.runtime.bus": (
        "Bus",
        "InProcessBus",
        "MqttBus",
    ),
    # agents in other processes
    "weft.runtime.remote": (
        "AgentHost",
        "RemoteAction",
    ),
    # choosing an agent by capability
    "weft.runtime.routing": (
        "CapabilityRouter",
        "EmbeddingError",
        "EmbeddingMismatchError",
        "make_embedder",
    ),
    # where spans are kept
    "weft.runtime.tracing": ("TraceStore",),
    # values masked wherever they would be recorded; a journal or trace store
    # (by default under $WEFT_HOME) that cannot be used
    "weft.runtime.support": (
        "register_secret",
        "secret",
        "StorageError",
    ),
    # a free-text task becomes a routed workflow
    "weft.runtime.orchestrator": (
        "Orchestrator",
        "PlanInvalid",
        "PlanningError",
    ),
}

_EXPORTS: dict[str, str] = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.protocols import (  # noqa: I001 (isort would give each `x as x` its own statement)
        ActionCall as ActionCall,
        ActionContext as ActionContext,
        ActionKind as ActionKind,
        ActionResult as ActionResult,
        ActionSpec as ActionSpec,
        ActionState as ActionState,
        CapabilityCard as CapabilityCard,
        EdgeSpec as EdgeSpec,
        ErrorInfo as ErrorInfo,
        JoinSpec as JoinSpec,
        NodeState as NodeState,
        RetryPolicy as RetryPolicy,
        RunState as RunState,
        Usage as Usage,
        WorkflowSpec as WorkflowSpec,
        WeftError as WeftError,
        ActionFailed as ActionFailed,
        BusError as BusError,
        CallTimeoutError as CallTimeoutError,
        DefinitionError as DefinitionError,
        InputError as InputError,
        NeedsInput as NeedsInput,
        PublishRefusedError as PublishRefusedError,
        ResumeMismatchError as ResumeMismatchError,
        RunFailedError as RunFailedError,
        RunInProgressError as RunInProgressError,
        RunNotFoundError as RunNotFoundError,
        text_delta as text_delta,
    )
    from weft.agents import (
        FunctionAction as FunctionAction,
        LLMAgent as LLMAgent,
        from_langgraph as from_langgraph,
        from_mcp as from_mcp,
        from_mcp_async as from_mcp_async,
        McpServerError as McpServerError,
        set_worker_threads as set_worker_threads,
        tool as tool,
    )
    from weft.workflows import (
        Workflow as Workflow,
        dumps_workflow as dumps_workflow,
        load_workflow as load_workflow,
        loads_workflow as loads_workflow,
    )
    from weft.runtime.engine import (
        ActionRegistry as ActionRegistry,
        Executor as Executor,
        Journal as Journal,
        RunResult as RunResult,
        compile_workflow as compile_workflow,
        resume_run as resume_run,
        run_sync as run_sync,
        run_workflow as run_workflow,
        stream_workflow as stream_workflow,
    )
    from weft.runtime.bus import (
        Bus as Bus,
        InProcessBus as InProcessBus,
        MqttBus as MqttBus,
    )
    from weft.runtime.remote import (
        AgentHost as AgentHost,
        RemoteAction as RemoteAction,
    )
    from weft.runtime.routing import (
        CapabilityRouter as CapabilityRouter,
        EmbeddingError as EmbeddingError,
        EmbeddingMismatchError as EmbeddingMismatchError,
        make_embedder as make_embedder,
    )
    from weft.runtime.tracing import (
        TraceStore as TraceStore,
    )
    from weft.runtime.support import (
        register_secret as register_secret,
        secret as secret,
        StorageError as StorageError,
    )
    from weft.runtime.orchestrator import (
        Orchestrator as Orchestrator,
        PlanInvalid as PlanInvalid,
        PlanningError as PlanningError,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'weft' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
