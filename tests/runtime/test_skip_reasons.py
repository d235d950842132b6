"""Why a node was skipped is said in words that fit what happened."""

from __future__ import annotations

from typing import Any

import weft
from weft.protocols import NodeState


@weft.tool
def draft(topic: str) -> str:
    """A draft."""
    return f"a post about {topic}"


@weft.tool
def publish(text: str) -> str:
    """Publish it."""
    return f"published: {text}"


@weft.tool
def rejecting_critic(artifact: Any, source: str, target: str) -> dict[str, Any]:
    """Rejects everything."""
    return {"approved": False, "feedback": "no"}


async def test_a_node_whose_critic_rejected_its_input_says_so() -> None:
    wf = weft.Workflow("critic-skip")
    wf.node("draft", draft, with_={"topic": "cats"})
    wf.node("publish", publish, after=[{"node": "draft", "critic": rejecting_critic}])
    result = await weft.run_workflow(wf, record=False)
    outcome = result.nodes["publish"]
    assert outcome.state is NodeState.SKIPPED
    assert outcome.reason is not None and "critics rejected" in outcome.reason
