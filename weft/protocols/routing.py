"""Routing by capability: the decision record and the interface every router implements.

A router turns a subtask description into a choice of agent (a capability
card), and explains itself: every candidate it considered with the parts of
its score. The orchestrator depends only on this interface, so a rule-based
router, the embedding router over Chroma, or a user's own are interchangeable.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols.capability import CapabilityCard


class RouteRequest(BaseModel):
    """What needs an agent, and the hard constraints on which agent may take it."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The subtask, in prose.")
    capability: str | None = Field(
        default=None, description="A short capability phrase from the planner, if any."
    )
    required_tags: list[str] = Field(
        default_factory=list, description="Policy labels the agent must carry."
    )
    max_cost: float | None = Field(default=None, ge=0, description="Budget per call, USD.")
    k: int = Field(default=5, ge=1, le=100, description="How many candidates to consider.")
    run_id: str | None = Field(
        default=None, description="Run the subtask belongs to; the route span joins its trace."
    )
    subtask_id: str | None = Field(
        default=None, description="Id of the subtask (the workflow node) being routed, if any."
    )


class Candidate(BaseModel):
    """One agent considered for a subtask, with the parts of its score."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(description="The candidate's card id.")
    version: int = Field(description="Version of the card that was scored.")
    score: float = Field(description="Final score; the highest wins.")
    similarity: float = Field(default=0.0, description="Semantic similarity to the subtask.")
    lexical: float = Field(default=0.0, description="Keyword overlap score.")
    cost: float = Field(default=0.0, description="Cost per call from the card.")
    load: float = Field(default=0.0, description="Current load, 0 idle to 1 saturated.")
    success_rate: float | None = Field(
        default=None, description="Past success on similar subtasks, if known."
    )
    excluded: str | None = Field(
        default=None, description="Why it was filtered out (not alive, tags, budget, not_skills)."
    )
    parts: dict[str, float] = Field(
        default_factory=dict,
        description="Weighted contributions that add up to ``score`` (router-specific names).",
    )
    evidence: str | None = Field(
        default=None, description="The part of the card that matched best, e.g. 'skill: ...'."
    )


class RoutingDecision(BaseModel):
    """The outcome of routing one subtask; traced as a span with every candidate."""

    model_config = ConfigDict(extra="forbid")

    request: RouteRequest = Field(description="What was asked.")
    chosen: CapabilityCard | None = Field(default=None, description="The winner, if any.")
    candidates: list[Candidate] = Field(
        default_factory=list, description="Everything considered, best first."
    )
    embedding_model: str | None = Field(default=None, description="Model used to embed.")
    latency_s: float = Field(default=0.0, description="Time spent deciding.")


@runtime_checkable
class Router(Protocol):
    """Chooses an agent for a subtask among the cards it knows."""

    async def route(self, request: RouteRequest) -> RoutingDecision:
        """Decide; a decision with ``chosen=None`` means no agent qualifies."""
        ...

    async def upsert(self, card: CapabilityCard) -> None:
        """Add or replace a card (a higher ``version`` replaces a lower one)."""
        ...

    async def remove(self, agent_id: str) -> None:
        """Forget an agent (it died or left)."""
        ...

    async def record_outcome(self, request: RouteRequest, agent_id: str, success: bool) -> None:
        """Learn from what happened, so later similar subtasks route better."""
        ...
