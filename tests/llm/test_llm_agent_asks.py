"""A tool that asks a person stops the LLM agent that called it; resuming answers the tool.

Before, the tool's question went back to the model as a tool error, and the
model carried on without it: an approval gate on a refund tool was passed
and the run "succeeded". Now the agent's call ends ``needs_input`` with the
tool's question, nothing more is asked of the model, and ``weft resume
--answer NODE=VALUE`` goes on from the tool call that asked (the saved
conversation, ``test_llm_agent_resume``), the tool getting the answer when it
asks again. Real ``openai`` client, scripted local server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from weft import ActionContext, RunState, WeftError, Workflow, tool
from weft.agents import LLMAgent
from weft.protocols import NodeState
from weft.protocols.human_input import question_of
from weft.runtime import Journal, resume_run, run_workflow
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call, tool_calls


def support_workflow(agent: LLMAgent) -> Workflow:
    wf = Workflow("support")
    wf.node("agent", agent, with_={"task": "Customer wants order A1 refunded."})
    return wf


async def test_a_tool_that_asks_stops_the_agent_and_the_answer_reaches_the_tool(
    tmp_path: Path,
) -> None:
    refunded: list[str] = []

    @tool
    def refund(order: str, ctx: ActionContext) -> str:
        """Refund an order; a person approves every refund."""
        if ctx.ask(f"Refund order {order}?", choices=["yes", "no"]) != "yes":
            return f"refund of {order} declined"
        refunded.append(order)
        return f"refunded {order}"

    model = ScriptedModel(
        [
            tool_call("refund", {"order": "A1"}),  # first run: stops at the question
            text("Order A1 is refunded."),  # resumed: the turn after the answered call
        ]
    )
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund])
        wf = support_workflow(agent)

        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        node = first.nodes["agent"]
        assert node.state is NodeState.NEEDS_INPUT
        assert node.error is not None
        assert node.error.message == "support: tool 'refund' asks: Refund order A1?"
        assert question_of(node.error) == {
            "question": "refund asks: Refund order A1?",
            "choices": ["yes", "no"],
            "index": 0,
        }
        assert len(model.requests) == 1  # the model was not told, and not asked again
        assert refunded == []

        with pytest.raises(WeftError, match=r"'sure' is not one of the choices"):
            await resume_run(
                first.run_id, journal=journal, definition=wf, answers={"agent": "sure"}
            )

        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert done.outputs == {"agent": "Order A1 is refunded."}
    assert refunded == ["A1"]
    assert len(model.requests) == 2
    told = model.requests[-1].messages[-1]
    assert told["role"] == "tool" and "refunded A1" in told["content"]


async def test_parallel_tools_that_ask_are_answered_in_the_order_the_model_called_them(
    tmp_path: Path,
) -> None:
    """A plain ``def`` tool and an ``async`` one, called in one model turn, both ask."""

    @tool
    def pick_colour(ctx: ActionContext) -> str:
        """Ask which colour."""
        return f"colour {ctx.ask('Which colour?')}"

    @tool
    async def pick_size(ctx: ActionContext) -> str:
        """Ask which size."""
        return f"size {ctx.ask('Which size?', choices=['S', 'M', 'L'])}"

    both = tool_calls(("pick_colour", {}), ("pick_size", {}))
    model = ScriptedModel([both, text("A red shirt in L.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "shop", model="m", base_url=server.base_url, tools=[pick_colour, pick_size]
        )
        wf = support_workflow(agent)
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert question_of(first.nodes["agent"].error)["question"] == (  # type: ignore[index]
            "pick_colour asks: Which colour?"
        )
        second = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "red"}, tracer=False
        )
        assert question_of(second.nodes["agent"].error) == {
            "question": "pick_size asks: Which size?",
            "choices": ["S", "M", "L"],
            "index": 1,
        }
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "L"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    replies: list[Any] = [m["content"] for m in model.requests[-1].messages if m["role"] == "tool"]
    assert replies == ["colour red", "size L"]
    assert len(model.requests) == 2  # one turn made the calls, one answered
