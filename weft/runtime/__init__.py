"""What runs weft: one subpackage (a *room*) per subsystem.

- ``engine``: compile a workflow, run it as a dataflow, journal and resume it;
- ``bus``: the ``Bus`` interface, the in-process bus and MQTT v5 (``bus.mqtt``);
- ``remote``: agents in other processes (``AgentHost``, ``RemoteAction``);
- ``interop``: weft's actions offered as MCP and A2A servers, A2A over MQTT;
- ``routing``: capability routing, its index and embedders;
- ``memory``: experience memory (past tasks, plans, outcomes) on Chroma;
- ``orchestrator``: task → plan → routed workflow → answer;
- ``tracing``: spans, the trace store, exports and the HTML view;
- ``teams``: IoA teams that converse, FoA clusters that refine each other;
- ``support``: redaction, logging and paths that every room shares.

Rooms import one way (support ← bus ← tracing ← engine ← remote ← interop ←
routing ← memory ← teams ← orchestrator); ``tests/test_layers.py`` keeps
them so. The names below are the runtime's public API, each loaded on first
use, so a process that only needs the bus does not import the executor.
"""

from __future__ import annotations

from weft.runtime.support.lazy import lazy_exports

_ROOMS: dict[str, tuple[str, ...]] = {
    "weft.runtime.engine": (
        "ActionRegistry",
        "ExecutionContext",
        "Executor",
        "Journal",
        "NodeOutcome",
        "PreparedWorkflow",
        "RunRecord",
        "RunResult",
        "as_action",
        "compile_workflow",
        "resolve_inputs",
        "resume_run",
        "run_sync",
        "run_workflow",
    ),
    "weft.runtime.bus": (
        "Bus",
        "InProcessBroker",
        "InProcessBus",
        "MosquittoBroker",
        "MqttBus",
        "Subscription",
    ),
    "weft.runtime.remote": ("AgentHost", "LiveRegistry", "RemoteAction"),
    "weft.runtime.routing": (
        "CapabilityIndex",
        "CapabilityRouter",
        "HashingEmbedder",
        "LexicalRouter",
        "MiniLMEmbedder",
        "OpenAIEmbedder",
        "OutcomeMemory",
        "ScoringWeights",
        "make_embedder",
    ),
    "weft.runtime.tracing": (
        "FanOutTracer",
        "MemoryTracer",
        "OtlpTracer",
        "SpanRecord",
        "TraceStore",
        "Tracer",
        "open_default_tracer",
    ),
    "weft.runtime.teams": ("Cluster", "Formation", "Team", "TeamMember"),
    "weft.runtime.support": (
        "configure_logging",
        "default_journal_path",
        "register_secret",
        "secret",
        "weft_home",
    ),
}
_EXPORTS = {name: room for room, names in _ROOMS.items() for name in names}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
