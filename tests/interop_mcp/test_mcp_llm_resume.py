"""``weft mcp serve``: an LLM agent whose tool asks goes on where it stopped once answered.

The defect: the served action was called again from its start with the
client's answer, so an ``LLMAgent`` asked its model again from turn 1 and
made its finished tool calls again (a refund twice). Now the state it saves
when it asks (``ActionResult.resume_state``) goes back to it with the
answer: kept in the loop of a handshake-era call, and on the server between
two 2026-07-28 rounds (never sent to the client). A real ``weft mcp serve``
process on stdio, the SDK's ``Client`` in both revisions, the real
``openai`` client in the served agent against the scripted local server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ElicitResult

from weft.runtime.interop.mcp_asking import SavedStates
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls

AGENT = """
from pathlib import Path

from weft import ActionContext, tool
from weft.agents import LLMAgent

LOG = Path(__file__).with_name("refunds.log")


@tool
def refund(order: str, amount: int, ctx: ActionContext) -> str:
    \"\"\"Refund an order; a person approves refunds over 100.\"\"\"
    if amount > 100 and ctx.ask(f"Refund {amount} on {order}?", choices=["yes", "no"]) != "yes":
        return f"refund of {order} declined"
    with LOG.open("a") as f:
        f.write(order + "\\n")
    return f"refunded {order}"


support = LLMAgent("support", model="m", tools=[refund])
"""


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """The client's revision: ``auto`` reaches 2026-07-28 with weft; ``legacy`` the handshake."""
    return str(request.param)


async def test_a_served_llm_agent_makes_only_the_tool_call_that_asked(
    tmp_path: Path, mode: str
) -> None:
    (tmp_path / "desk_agent.py").write_text(AGENT)
    model = ScriptedModel(
        [
            tool_calls(
                ("refund", {"order": "A1", "amount": 50}),
                ("refund", {"order": "B2", "amount": 500}),
            ),
            text("Refunded A1 and B2."),
        ]
    )
    asked: list[str] = []

    async def person(_context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"answer": "yes"})

    async with OpenAIServer(model) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "WEFT_HOME": str(tmp_path)}
        env.pop("WEFT_BROKER", None)
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "weft", "mcp", "serve", "desk_agent:support", "--path", str(tmp_path)],
            cwd=str(tmp_path),
            env=env,
        )
        async with Client(params, mode=mode, elicitation_callback=person) as client:
            result = await client.call_tool("support", {"task": "Refund A1 (50) and B2 (500)."})
    assert not result.is_error, result
    assert result.structured_content == {"result": "Refunded A1 and B2."}
    assert asked == ["refund asks: Refund 500 on B2?"]
    assert (tmp_path / "refunds.log").read_text() == "A1\nB2\n"  # A1 once
    assert len(model.requests) == 2  # turn 1 once, then the turn after the answer


def test_a_kept_state_is_handed_back_once_to_the_same_action_with_one_more_answer() -> None:
    saved = SavedStates(limit=2)
    token = saved.keep("support", 1, {"turn": 0})
    assert saved.take(token, "other", 2) is None  # another action: not its state
    token = saved.keep("support", 1, {"turn": 0})
    assert saved.take(token, "support", 3) is None  # answers that do not follow it
    token = saved.keep("support", 1, {"turn": 0})
    assert saved.take(token, "support", 2) == {"turn": 0}
    assert saved.take(token, "support", 2) is None  # once
    first = saved.keep("a", 0, {})
    saved.keep("b", 0, {})
    saved.keep("c", 0, {})
    assert len(saved) == 2 and saved.take(first, "a", 1) is None  # the oldest forgotten
