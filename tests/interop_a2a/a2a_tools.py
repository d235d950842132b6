"""Actions the A2A tests serve and call."""

from __future__ import annotations

from weft import tool
from weft.protocols import ActionFailed, CapabilityCard


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
