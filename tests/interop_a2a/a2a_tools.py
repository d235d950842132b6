"""Actions the A2A tests serve and call."""

from __future__ import annotations

from typing import Any

from weft import tool
from weft.agents.a2a_action import A2aAction
from weft.protocols import ActionCall, ActionFailed, ActionResult, CapabilityCard
from weft.runtime.engine.execution_context import UNUSED_CONTEXT


@tool(
    card=CapabilityCard(
        agent_id="echo", skills=["repeat text"], examples=["say hi back"], tags=["safe"]
    )
)
def echo(text: str) -> dict[str, str]:
    """Return the text it was given."""
    return {"text": text}


@tool
def word_stats(document: str) -> dict[str, int]:
    """Count the words and characters of a document."""
    return {"words": len(document.split()), "chars": len(document)}


@tool
def refuse(text: str) -> dict[str, str]:
    """Always fails, as a tool that refuses its input does."""
    raise ActionFailed(f"will not process {text!r}", error_type="Refused", retryable=True)


async def call_once(action: A2aAction, arguments: dict[str, Any]) -> ActionResult:
    """One call of the A2A agent ``action`` reaches; its HTTP client closed after, pass or fail."""
    try:
        call = ActionCall(action=action.spec.name, arguments=arguments)
        return await action.invoke(call, UNUSED_CONTEXT)
    finally:
        await action.aclose()
