"""An MCP server (the SDK's ``MCPServer``) whose tools ask the client's user (elicitation).

Run as ``python mcp_asking_server.py`` (stdio; it speaks every revision, so
a client of today gets the stateless 2026-07-28 one, where a question comes
back as an ``input_required`` result) or ``python mcp_asking_server.py
legacy`` (it refuses ``server/discover``, so a client falls back to the
``initialize`` handshake, where a question is an ``elicitation/create``
request in the middle of the call).

Its tools: ``refund`` asks one question with choices (an enum) and answers
what was chosen; ``signup`` asks for a name, then (a second question, asked
after the first is answered) whether to subscribe; ``contact`` asks one form
of two fields; ``polite`` reports a decline or cancel instead of failing.

A prompt and a resource ask too (the SDK has no ``Resolve`` for them, so they
ask by hand, as its docs say: an ``InputRequiredResult`` at 2026-07-28,
``ctx.elicit`` before): the prompt ``greeting`` asks whose greeting it is, the
resource template ``vault://{box}`` asks for the code of the box.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
    MCPServer,
    Resolve,
)
from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

server = MCPServer("weft-asking", log_level="WARNING")


class Decision(BaseModel):
    decision: Literal["approve", "reject"]


class Name(BaseModel):
    name: str


class Subscribe(BaseModel):
    subscribe: bool


class Contact(BaseModel):
    email: str
    phone: str


def ask_decision(amount: int) -> Elicit[Decision]:
    return Elicit(f"Refund {amount} EUR?", Decision)


@server.tool(description="Refund an amount once a person decides.")
def refund(amount: int, decided: Annotated[Decision, Resolve(ask_decision)]) -> str:
    return f"{decided.decision}d {amount}"


def ask_name() -> Elicit[Name]:
    return Elicit("Your name?", Name)


def ask_subscribe(name: Annotated[Name, Resolve(ask_name)]) -> Elicit[Subscribe]:
    return Elicit(f"Subscribe {name.name} to the newsletter?", Subscribe)


@server.tool(description="Sign a person up, asking their name, then whether to subscribe.")
def signup(
    name: Annotated[Name, Resolve(ask_name)], sub: Annotated[Subscribe, Resolve(ask_subscribe)]
) -> str:
    return f"{name.name} subscribed={sub.subscribe}"


def ask_contact() -> Elicit[Contact]:
    return Elicit("How can we reach you?", Contact)


@server.tool(description="Ask for contact details (two fields).")
def contact(details: Annotated[Contact, Resolve(ask_contact)]) -> str:
    return f"{details.email} / {details.phone}"


@server.tool(description="Ask a name; a decline or cancel is reported, not an error.")
def polite(outcome: Annotated[ElicitationResult[Name], Resolve(ask_name)]) -> str:
    if isinstance(outcome, AcceptedElicitation):
        return f"hello {outcome.data.name}"
    return f"no name: {outcome.action}"


class Code(BaseModel):
    code: str


async def ask_by_hand(ctx: Context, key: str, message: str, form: type[BaseModel]) -> Any:
    """The reply to ``message`` (a dict), or the ``InputRequiredResult`` that asks it."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        reply = (ctx.input_responses or {}).get(key)
        if isinstance(reply, ElicitResult):
            return reply.content if reply.action == "accept" else {}
        params = ElicitRequestFormParams(message=message, requested_schema=form.model_json_schema())
        return InputRequiredResult(input_requests={key: ElicitRequest(params=params)})
    outcome = await ctx.elicit(message, form)
    return outcome.data.model_dump() if isinstance(outcome, AcceptedElicitation) else {}


@server.prompt(description="Greet a person whose name is asked.")
async def greeting(ctx: Context) -> Any:
    reply = await ask_by_hand(ctx, "name", "Whose greeting?", Name)
    if isinstance(reply, InputRequiredResult):
        return reply
    return f"Write a greeting for {reply.get('name', 'nobody')}."


@server.resource("vault://{box}", description="A box that opens with a code that is asked.")
async def vault(box: str, ctx: Context) -> Any:
    reply = await ask_by_hand(ctx, "code", f"The code of box {box}?", Code)
    if isinstance(reply, InputRequiredResult):
        return reply
    return f"box {box} opened with {reply.get('code')}"


async def serve_legacy() -> None:
    """Serve stdio in the handshake era only, as a server of before 2026-07-28 does."""
    from mcp.server.runner import serve_loop
    from mcp.server.stdio import stdio_server

    lowlevel = server._lowlevel_server
    async with stdio_server() as (read, write), lowlevel.lifespan(lowlevel) as state:
        await serve_loop(
            lowlevel,
            read,
            write,
            lifespan_state=state,
            init_options=lowlevel.create_initialization_options(),
        )


if __name__ == "__main__":
    if sys.argv[1:] == ["legacy"]:
        anyio.run(serve_legacy)
    else:
        server.run("stdio")
