"""What runs: executor, buses, registry, journal, runner.

Submodules load on first use, so a process that only needs the bus does not
import the executor and the workflow layer.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "CapabilityRouter": "weft.runtime.router",
    "ScoringWeights": "weft.runtime.router",
    "CapabilityIndex": "weft.runtime.capability_index",
    "OutcomeMemory": "weft.runtime.outcome_memory",
    "make_embedder": "weft.runtime.embeddings",
    "MiniLMEmbedder": "weft.runtime.embeddings",
    "HashingEmbedder": "weft.runtime.embeddings",
    "OpenAIEmbedder": "weft.runtime.embeddings",
    "AgentHost": "weft.runtime.agent_host",
    "Bus": "weft.runtime.bus",
    "Subscription": "weft.runtime.bus",
    "ExecutionContext": "weft.runtime.executor",
    "Executor": "weft.runtime.executor",
    "NodeOutcome": "weft.runtime.executor",
    "RunResult": "weft.runtime.executor",
    "InProcessBroker": "weft.runtime.inprocess_bus",
    "InProcessBus": "weft.runtime.inprocess_bus",
    "LiveRegistry": "weft.runtime.live_registry",
    "MqttBus": "weft.runtime.mqtt_bus",
    "RemoteAction": "weft.runtime.remote",
    "MosquittoBroker": "weft.runtime.broker",
    "resolve_inputs": "weft.runtime.inputs",
    "Journal": "weft.runtime.journal",
    "RunRecord": "weft.runtime.journal",
    "PreparedWorkflow": "weft.runtime.compiler",
    "prepare": "weft.runtime.compiler",
    "ActionRegistry": "weft.runtime.registry",
    "as_action": "weft.runtime.registry",
    "default_journal_path": "weft.runtime.runner",
    "resume_run": "weft.runtime.runner",
    "run_sync": "weft.runtime.runner",
    "run_workflow": "weft.runtime.runner",
    "weft_home": "weft.runtime.runner",
    "FanOutTracer": "weft.runtime.tracing",
    "MemoryTracer": "weft.runtime.tracing",
    "SpanRecord": "weft.runtime.tracing",
    "Tracer": "weft.runtime.tracing",
    "TraceStore": "weft.runtime.trace_store",
    "open_default_tracer": "weft.runtime.trace_store",
    "OtlpTracer": "weft.runtime.otlp",
    "configure_logging": "weft.runtime.logging",
    "register_secret": "weft.runtime.redaction",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'weft.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
