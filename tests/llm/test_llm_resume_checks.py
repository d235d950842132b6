"""A saved conversation is carried on only by the agent setup that saved it.

The defect: the check of a saved conversation compared the tools' names only,
so an agent resumed after its instructions, its model or a tool's parameters
had changed went on with a conversation made for another setup (a pending
tool call whose arguments no longer fit its tool, a model handed another
model's turns). Now each change is detected: the agent starts again from its
beginning with a warning naming what changed, as for renamed tools. Real
``openai`` client, scripted local server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from weft import ActionContext, RunState, Workflow, tool
from weft.agents import LLMAgent
from weft.protocols import Action
from weft.runtime import Journal, resume_run, run_workflow
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls

TWO_REFUNDS = tool_calls(
    ("refund", {"order": "A1", "amount": 50}), ("refund", {"order": "B2", "amount": 500})
)


def refund_tool(made: list[str], *, with_currency: bool = False) -> Action:
    if with_currency:

        @tool
        def refund(order: str, amount: int, ctx: ActionContext, currency: str = "EUR") -> str:
            """Refund an order; a person approves refunds over 100."""
            if amount > 100 and ctx.ask(f"Refund {amount} on {order}?") != "yes":
                return f"refund of {order} declined"
            made.append(order)
            return f"refunded {order}"

        return refund

    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:  # type: ignore[no-redef]
        """Refund an order; a person approves refunds over 100."""
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?") != "yes":
            return f"refund of {order} declined"
        made.append(order)
        return f"refunded {order}"

    return refund


def workflow(agent: Action) -> Workflow:
    wf = Workflow("support")
    wf.node("agent", agent, with_={"task": "Refund what the customer asks for."})
    return wf


Change = Callable[[str, list[str]], tuple[LLMAgent, LLMAgent]]


def instructions(base_url: str, made: list[str]) -> tuple[LLMAgent, LLMAgent]:
    tools = [refund_tool(made)]
    return (
        LLMAgent("support", instructions="Be kind.", model="m", base_url=base_url, tools=tools),
        LLMAgent("support", instructions="Be brief.", model="m", base_url=base_url, tools=tools),
    )


def model(base_url: str, made: list[str]) -> tuple[LLMAgent, LLMAgent]:
    tools = [refund_tool(made)]
    return (
        LLMAgent("support", model="m", base_url=base_url, tools=tools),
        LLMAgent("support", model="m2", base_url=base_url, tools=tools),
    )


def parameters(base_url: str, made: list[str]) -> tuple[LLMAgent, LLMAgent]:
    return (
        LLMAgent("support", model="m", base_url=base_url, tools=[refund_tool(made)]),
        LLMAgent(
            "support",
            model="m",
            base_url=base_url,
            tools=[refund_tool(made, with_currency=True)],
        ),
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [(instructions, "instructions"), (model, "model"), (parameters, "tool parameters")],
)
async def test_a_changed_setup_starts_the_agent_again_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, change: Change, words: str
) -> None:
    made: list[str] = []
    replies = ScriptedModel([TWO_REFUNDS, TWO_REFUNDS, text("Refunded A1 and B2.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(replies) as server:
        before, after = change(server.base_url, made)
        first = await run_workflow(workflow(before), journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        with caplog.at_level(logging.WARNING, logger="weft.agents.llm"):
            done = await resume_run(
                first.run_id,
                journal=journal,
                definition=workflow(after),
                answers={"agent": "yes"},
                tracer=False,
                force=True,
            )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert made == ["A1", "A1", "B2"]  # replayed from the start
    assert len(replies.requests) == 3
    warned = [r.getMessage() for r in caplog.records if r.name == "weft.agents.llm"]
    assert len(warned) == 1, warned
    assert f"the agent's {words} changed since it was saved" in warned[0]


async def test_the_same_setup_goes_on_where_it_stopped(tmp_path: Path) -> None:
    """Rebuilding an equal agent (a new process) keeps the saved conversation."""
    made: list[str] = []
    replies = ScriptedModel([TWO_REFUNDS, text("Refunded A1 and B2.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(replies) as server:

        def agent() -> LLMAgent:
            return LLMAgent(
                "support",
                instructions="Be kind.",
                model="m",
                base_url=server.base_url,
                tools=[refund_tool(made)],
            )

        first = await run_workflow(workflow(agent()), journal=journal, tracer=False)
        done = await resume_run(
            first.run_id,
            journal=journal,
            definition=workflow(agent()),
            answers={"agent": "yes"},
            tracer=False,
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert made == ["A1", "B2"]
    assert len(replies.requests) == 2
