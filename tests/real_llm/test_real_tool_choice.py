"""``tool_choice: "required"`` against llama-cpp-python's real server, which crashes on it.

The server answers ``required`` with an HTTP 500 whose message is empty (its
chatml-function-calling handler takes ``auto``, ``none`` and a named tool).
weft steps down once, to the one tool named, and the call goes on.
"""

from __future__ import annotations

from typing import Any

from weft import Workflow, tool
from weft.agents import LLMAgent
from weft.agents.endpoint_profiles import ENDPOINT_PROFILES
from weft.protocols import NodeState
from weft.runtime import run_workflow

from .conftest import MODEL


async def test_required_is_stepped_down_to_the_named_tool_and_remembered(real_llm: str) -> None:
    calls: list[int] = []

    @tool
    def square(n: int) -> int:
        """Square a whole number."""
        calls.append(n)
        return n * n

    agent = LLMAgent(
        "squarer",
        base_url=real_llm,
        model=MODEL,
        temperature=0,
        max_tokens=60,
        instructions="You square numbers with the square tool, then state the result.",
        tools=[square],
        tool_choice="required",
        max_turns=2,
    )
    workflow = Workflow("real-required")
    workflow.node("agent", agent, with_={"task": "What is 7 squared?"})
    result = await run_workflow(workflow, record=False)
    outcome = result.nodes["agent"]
    assert outcome.state is NodeState.SUCCEEDED, outcome.error
    # the forced first turn called the tool (the named choice is a grammar on this server)
    assert calls and all(isinstance(n, int) for n in calls)
    # one refused request (not billed: no answer), then the named tool and the last turn
    assert result.usage.llm_calls == 2
    profile: Any = ENDPOINT_PROFILES.get(real_llm, MODEL)
    assert profile.tool_choice_required is False and profile.tool_choice_named is True
    assert any('tool_choice "required" refused' in note for note in profile.notes)
