"""weft actions that the ``weft mcp serve`` tests serve (``weft_actions:tools``)."""

from __future__ import annotations

from pydantic import BaseModel

from weft import ActionFailed, tool


class Stats(BaseModel):
    words: int
    chars: int


@tool
def shout(text: str) -> str:
    """Say the text louder."""
    return text.upper()


@tool
def stats(text: str) -> Stats:
    """Count the words and characters of a text."""
    return Stats(words=len(text.split()), chars=len(text))


@tool
def halves(n: int) -> list[int]:
    """Split a number into two halves."""
    return [n // 2, n - n // 2]


@tool(name="team/review")
def review(draft: str) -> str:
    """Review a draft (a name MCP does not allow as it is)."""
    return f"looks good: {draft}"


@tool
def refuse(reason: str) -> str:
    """Always refuses, with the reason given."""
    raise ActionFailed(f"refused: {reason}", retryable=True, error_type="Refused")


tools = [shout, stats, halves, review, refuse]
