"""A weft action that reports progress, served by ``weft mcp serve`` in the progress tests."""

from __future__ import annotations

from weft import ActionContext, tool


@tool
def countdown(n: int, ctx: ActionContext) -> str:
    """Counts down from n, reporting each number (a plain ``def``: a worker thread)."""
    for i in range(n, 0, -1):
        ctx.progress(str(i), (n - i + 1) / n)
    return "liftoff"


tools = [countdown]
