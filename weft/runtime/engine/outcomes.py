"""What a run produces: per-node outcomes, the run result, and the usage tally."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weft.protocols import ErrorInfo, NodeState, RunState, Usage
from weft.protocols.actions import NO_USAGE


class UsageTally:
    """Adds up usage with plain numbers; a pydantic model per addition is too slow here."""

    __slots__ = ("completion_tokens", "cost", "latency_s", "llm_calls", "prompt_tokens")

    def __init__(self) -> None:
        self.llm_calls = self.prompt_tokens = self.completion_tokens = 0
        self.cost = self.latency_s = 0.0

    def add(self, usage: Usage) -> None:
        self.llm_calls += usage.llm_calls
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost += usage.cost
        self.latency_s += usage.latency_s

    def total(self) -> Usage:
        return Usage(
            llm_calls=self.llm_calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost=self.cost,
            latency_s=self.latency_s,
        )


@dataclass(slots=True)
class NodeOutcome:
    """What became of one node (its latest execution, for nodes inside loops)."""

    name: str
    key: str
    state: NodeState
    output: Any = None
    error: ErrorInfo | None = None
    attempts: int = 0
    usage: Usage = NO_USAGE
    started_at: float | None = None
    finished_at: float | None = None
    cached: bool = False
    reason: str | None = None
    span_id: str | None = None
    arguments: dict[str, Any] | None = None
    #: The agent that answered its call, when an agent in another process did.
    agent: str | None = None


@dataclass
class RunResult:
    """The outcome of a run: its state, named outputs, and every node's outcome."""

    run_id: str
    workflow: str
    state: RunState
    outputs: dict[str, Any]
    nodes: dict[str, NodeOutcome]
    usage: Usage
    started_at: float
    finished_at: float
    error: str | None = None
    #: Mistakes the run met that did not stop it, one line each (an output whose
    #: reference could not be read once its node had succeeded: ``run_outputs``).
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state is RunState.SUCCEEDED

    @property
    def duration(self) -> float:
        return self.finished_at - self.started_at

    def failed_nodes(self) -> list[NodeOutcome]:
        return [n for n in self.nodes.values() if n.state is NodeState.FAILED]
