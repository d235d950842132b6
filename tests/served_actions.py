"""Actions served to MCP and A2A clients by the tests of served calls' traces
(``test_mcp_serve_traces``, ``test_a2a_served_traces``): ``served_actions:tools``."""

from __future__ import annotations

from weft import ActionContext, tool

#: The environment variable (a secret by its name) the servers of these tests get.
SECRET_ENV = "SERVED_DEMO_TOKEN"


@tool
def echo(text: str) -> str:
    """Says the text back."""
    return text


@tool
def login(user: str, api_key: str) -> str:
    """Signs in, and says with which key (a tool that leaks its secret argument)."""
    return f"{user} signed in with {api_key}"


def _check(n: int) -> int:
    if n > 100:
        raise ValueError(f"{n} is too big for this tool")
    return n


@tool
def boom(n: int) -> int:
    """Fails, from a helper function, on numbers over 100."""
    return _check(n)


@tool
async def relay(text: str, ctx: ActionContext) -> str:
    """Has ``echo`` say the text (a call made by name, inside the served call)."""
    said = await ctx.invoke("echo", {"text": text})
    return f"relayed: {said.output}"


@tool
def confirm(text: str, ctx: ActionContext) -> str:
    """Asks a person before it sends the text."""
    if ctx.ask(f"Send {text}?", choices=["yes", "no"]) != "yes":
        return "kept"
    return f"sent {text}"


tools = [echo, login, boom, relay, confirm]
