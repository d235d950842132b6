"""Versioned capability cards, after Federation of Agents.

A card is what an agent advertises so that a router can pick it by meaning
rather than by name. Its ``version`` increases whenever the agent's abilities
change; a newer card replaces an older one wherever cards are indexed.

Cards travel inside agent cards on the bus, so fields this version does not
know are ignored (a newer agent may add some); a cards file a user writes
(``weft route --cards``) is checked strictly by its loader instead.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CapabilityCard(BaseModel):
    """An agent's advertised abilities, costs and address."""

    model_config = ConfigDict(extra="ignore")

    agent_id: str = Field(description="Stable id of the agent (or pool) this card describes.")
    version: int = Field(default=1, ge=1, description="Monotonic version; higher replaces lower.")
    description: str = Field(default="", description="What the agent is good at, in prose.")
    skills: list[str] = Field(default_factory=list, description="Specific things it can do.")
    not_skills: list[str] = Field(
        default_factory=list, description="Things it explicitly does not do (routing honours it)."
    )
    examples: list[str] = Field(default_factory=list, description="Example tasks it handles well.")
    tags: list[str] = Field(default_factory=list, description="Policy labels used as hard filters.")
    cost_per_call: float = Field(default=0.0, ge=0, description="Expected USD cost of one call.")
    expected_latency_s: float = Field(default=0.0, ge=0, description="Typical latency, seconds.")
    max_concurrency: int | None = Field(
        default=None, ge=1, description="Calls it serves at once; None means unbounded."
    )
    embedding_model: str | None = Field(
        default=None, description="Id of the model that embedded description + skills."
    )
    topic: str | None = Field(default=None, description="Bus topic where calls reach it.")

    def embedding_text(self) -> str:
        """The text whose embedding represents the card as a whole."""
        return "\n".join([self.description, *self.skills])
