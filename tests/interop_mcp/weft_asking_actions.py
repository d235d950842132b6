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


@tool
def pick(ctx: ActionContext) -> str:
    """A pick among numbers; says what it got, type and value, to show it got a number."""
    chosen = ctx.ask("Which one?", choices=[1, 2, 3])
    return f"{type(chosen).__name__} {chosen!r}"


tools = [approve, scale, confirm, pick]
