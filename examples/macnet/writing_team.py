"""A writing team as a MacNet: one LLM agent per node, an LLM critic on every edge.

Actors (``LLMAgent``; model from ``WEFT_MODEL``, endpoint from
``OPENAI_BASE_URL``, key from ``OPENAI_API_KEY``, resolved at call time) each
take the task and the drafts of their direct predecessors (``context``), and
write their own contribution:

- ``outliner`` plans the piece: audience, key points, order;
- ``drafter`` writes prose from what it is given;
- ``fact_checker`` marks claims that need a source or a number;
- ``stylist`` tightens wording and rhythm;
- ``editor`` merges what arrives into one consistent text.

``critic`` sits on every edge: it reads the artifact about to pass on and
either approves it or sends it back with one concrete instruction; the
actor revises, at most ``ROUNDS`` times per edge. ``build()`` lays the team
on a small random DAG (``weft.workflows.topologies.generate``). The same
agents work with ``weft topology``: see README.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from weft.agents import LLMAgent
from weft.workflows import Workflow, generate

#: How many times a critic may send an artifact back on one edge.
ROUNDS = 1


def _actor(name: str, role: str, skills: list[str]) -> LLMAgent:
    return LLMAgent(
        name,
        instructions=(
            f"You are the {name.replace('_', ' ')} of a small writing team. {role} "
            "You get the task and, as context, the work of the teammates just before you; "
            "answer with your contribution only, in plain text, under 150 words."
        ),
        description=role,
        skills=skills,
    )


outliner = _actor(
    "outliner", "Plans a piece: audience, key points and their order.", ["outline", "plan"]
)
drafter = _actor("drafter", "Writes clear prose from an outline or notes.", ["draft", "write"])
fact_checker = _actor(
    "fact_checker",
    "Marks claims that need a source or a number, and suggests safer wording.",
    ["fact check", "verify claims"],
)
stylist = _actor(
    "stylist", "Tightens wording and rhythm without changing meaning.", ["style", "edit prose"]
)
editor = _actor(
    "editor",
    "Merges the drafts it receives into one consistent text.",
    ["merge drafts", "final edit"],
)

actors = [outliner, drafter, fact_checker, stylist, editor]


class Review(BaseModel):
    """The critic's verdict on one artifact."""

    approved: bool = Field(description="True when the artifact can be passed on as it is.")
    feedback: str = Field(description="One concrete instruction to fix it; empty when approved.")


def _render_review(arguments: Mapping[str, Any]) -> str:
    artifact = arguments.get("artifact")
    shown = artifact if isinstance(artifact, str) else json.dumps(artifact, indent=2)
    return (
        f"Artifact from {arguments.get('source')}, about to go to {arguments.get('target')}:\n\n"
        f"{shown}"
    )


critic = LLMAgent(
    "critic",
    instructions=(
        "You review one teammate's artifact before it is passed on. Approve it when it is "
        "clear, on task and free of unsupported claims. Otherwise do not approve, and give "
        "one concrete instruction that would fix it."
    ),
    description="Reviews an artifact on an edge: approve, or send back with an instruction.",
    skills=["review", "critique"],
    output_type=Review,
    input_schema={
        "type": "object",
        "properties": {
            "artifact": {"description": "What is about to be passed on."},
            "source": {"type": "string"},
            "target": {"type": "string"},
        },
        "required": ["artifact"],
    },
    render_input=_render_review,
)


def build(nodes: int = 5, seed: int = 1, p: float = 0.5) -> Workflow:
    """The team on a random DAG: actors cycled over the nodes, the critic on every edge."""
    return generate(
        "random",
        nodes,
        actors,
        seed=seed,
        p=p,
        critic=critic,
        max_rounds=ROUNDS,
        reducer="concat",
        name="macnet_writing",
        description="A writing team as a network of agents with critics on its edges.",
    )
