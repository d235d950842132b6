"""weft actions that ask a person (``ctx.ask``), served over MCP by the elicitation tests."""

from __future__ import annotations

from weft import ActionContext, tool


@tool
def approve(text: str, ctx: ActionContext) -> str:
    """Approve a text, asking a person first (a plain ``def``: two questions)."""
    if ctx.ask(f"Approve the {text}?", choices=["yes", "no"]) != "yes":
        return "rejected"
    return f"approved: {ctx.ask('A note for the customer?')}"


@tool
async def scale(n: int, ctx: ActionContext) -> int:
    """Multiply by a factor a person picks (async; choices that are numbers)."""
    return n * ctx.ask("Which factor?", choices=[2, 10])


@tool
def confirm(ctx: ActionContext) -> bool:
    """A yes/no question (choices True and False)."""
    return bool(ctx.ask("Sure?", choices=[True, False]))


tools = [approve, scale, confirm]
