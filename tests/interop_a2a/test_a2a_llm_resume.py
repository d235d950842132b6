"""``weft a2a serve``: an LLM agent whose tool asks goes on where it stopped once answered.

The defect: the next message to an ``input-required`` task called the
served action again from its start with the answers, so an ``LLMAgent``
asked its model again from turn 1 and made its finished tool calls again (a
refund twice). Now the state it saved when it asked stays with the task on
the server (never sent to the client) and goes back to it with the answer.
Real A2A over HTTP, the real ``openai`` client against the scripted local
server.
"""

from __future__ import annotations

from typing import Any

from weft import ActionContext, tool
from weft.agents import LLMAgent
from weft.agents.a2a_action import A2aAction
from weft.protocols import ActionState
from weft.runtime.interop.a2a_server import A2aHttpServer
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls

from .test_a2a_streaming import call_plain


async def test_a_served_llm_agent_makes_only_the_tool_call_that_asked() -> None:
    made: list[str] = []

    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:
        """Refund an order; a person approves refunds over 100."""
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?", choices=["yes", "no"]) != "yes":
            return f"refund of {order} declined"
        made.append(order)
        return f"refunded {order}"

    model = ScriptedModel(
        [
            tool_calls(
                ("refund", {"order": "A1", "amount": 50}),
                ("refund", {"order": "B2", "amount": 500}),
            ),
            text("Refunded A1 and B2."),
        ]
    )
    async with OpenAIServer(model) as llm:
        support = LLMAgent("support", model="m", base_url=llm.base_url, tools=[refund])
        async with A2aHttpServer([support]) as server:
            action = A2aAction(server.url, name="support", skill="support")
            try:
                first = await call_plain(action, {"task": "Refund A1 (50) and B2 (500)."})
                assert first.state is ActionState.NEEDS_INPUT and first.error is not None
                task: Any = first.error.details["a2a_task"]
                second = await call_plain(action, {"text": "yes", "a2a_task": task})
            finally:
                await action.aclose()
    assert second.ok, second.error
    assert second.output == {"text": "Refunded A1 and B2."}
    assert made == ["A1", "B2"]  # A1 once
    assert len(model.requests) == 2  # turn 1 once, then the turn after the answer
