"""A resumed LLM agent goes on where it stopped: no model turn, no finished tool call, again.

The defect, seen with a real model: an agent whose tool asked a person was
called again from its start on ``weft resume``: the model was asked again from
turn 1 (its tokens counted again) and every tool call that had finished was
made again; the first refund was made twice when a second question was
answered. Now the agent's ``needs_input`` result saves its conversation
(``ActionResult.resume_state``), the engine journals it and hands it back,
and the resumed agent makes only the tool calls that asked, then asks the
model for the next turn. Real ``openai`` client, scripted local server.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from weft import ActionContext, RunState, Workflow, tool
from weft.agents import LLMAgent
from weft.protocols import Action
from weft.protocols.human_input import question_of
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine.to_langgraph import resume_langgraph, run_langgraph
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call, tool_calls


def refund_tool(made: list[str]) -> Action:
    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:
        """Refund an order; a person approves refunds over 100."""
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?", choices=["yes", "no"]) != "yes":
            return f"refund of {order} declined"
        made.append(order)
        return f"refunded {order}"

    return refund


def support_workflow(agent: Action) -> Workflow:
    wf = Workflow("support")
    wf.node("agent", agent, with_={"task": "Refund what the customer asks for."})
    return wf


def tool_replies(request: Any) -> list[str]:
    return [m["content"] for m in request.messages if m["role"] == "tool"]


#: One turn, two refunds: the small one is made, the big one asks.
TWO_REFUNDS = tool_calls(
    ("refund", {"order": "A1", "amount": 50}), ("refund", {"order": "B2", "amount": 500})
)


async def test_a_resumed_agent_makes_only_the_tool_call_that_asked_and_asks_the_model_once_more(
    tmp_path: Path,
) -> None:
    made: list[str] = []
    model = ScriptedModel([TWO_REFUNDS, text("Refunded A1 and B2.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund_tool(made)])
        wf = support_workflow(agent)
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        assert made == ["A1"]
        saved = journal.resume_states(first.run_id)
        assert saved["agent"]["kind"] == "weft.llm_agent"
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert done.outputs == {"agent": "Refunded A1 and B2."}
    assert made == ["A1", "B2"]  # A1 once: it had finished before the question
    assert len(model.requests) == 2  # turn 1 once, then the turn after the answer
    assert tool_replies(model.requests[1]) == ["refunded A1", "refunded B2"]
    assert first.usage.llm_calls == 1 and done.usage.llm_calls == 1  # each request once
    assert done.usage.prompt_tokens > 0 and done.usage.completion_tokens > 0


async def test_a_second_question_does_not_make_the_first_refund_again(tmp_path: Path) -> None:
    made: list[str] = []
    model = ScriptedModel(
        [
            tool_call("refund", {"order": "A1", "amount": 500}),
            tool_call("refund", {"order": "B2", "amount": 700}),
            text("Both refunded."),
        ]
    )
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund_tool(made)])
        wf = support_workflow(agent)
        first = await run_workflow(wf, journal=journal, tracer=False)
        second = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
        assert second.state is RunState.NEEDS_INPUT
        assert question_of(second.nodes["agent"].error) == {
            "question": "refund asks: Refund 700 on B2?",
            "choices": ["yes", "no"],
            "index": 1,
        }
        assert made == ["A1"]
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert made == ["A1", "B2"]
    assert len(model.requests) == 3
    assert [r.usage.llm_calls for r in (first, second, done)] == [1, 1, 1]


async def test_an_agent_used_as_a_tool_goes_on_inside_the_agent_that_called_it(
    tmp_path: Path,
) -> None:
    """The child's saved conversation nests in its caller's: neither model is asked again."""
    made: list[str] = []
    model = ScriptedModel(
        [
            tool_call("support", {"task": "Refund A1 (50) and B2 (500)."}),  # desk, turn 1
            TWO_REFUNDS,  # support, turn 1
            text("Refunded A1 and B2."),  # support, turn 2 (resumed)
            text("The customer is refunded."),  # desk, turn 2 (resumed)
        ]
    )
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        support = LLMAgent(
            "support", model="m", base_url=server.base_url, tools=[refund_tool(made)]
        )
        desk = LLMAgent("desk", model="m", base_url=server.base_url, tools=[support])
        wf = support_workflow(desk)
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        assert question_of(first.nodes["agent"].error)["question"] == (  # type: ignore[index]
            "support asks: refund asks: Refund 500 on B2?"
        )
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert done.outputs == {"agent": "The customer is refunded."}
    assert made == ["A1", "B2"]
    assert len(model.requests) == 4
    assert tool_replies(model.requests[3]) == ["Refunded A1 and B2."]


def test_the_langgraph_engine_resumes_the_agent_where_it_stopped(tmp_path: Path) -> None:
    import asyncio

    made: list[str] = []
    model = ScriptedModel([TWO_REFUNDS, text("Refunded A1 and B2.")])
    journal_path = tmp_path / "journal.db"

    async def scenario() -> tuple[Any, Any]:
        async with OpenAIServer(model) as server:
            agent = LLMAgent(
                "support", model="m", base_url=server.base_url, tools=[refund_tool(made)]
            )
            wf = support_workflow(agent)
            first = await run_langgraph(wf, journal=journal_path, tracer=False)
            done = await resume_langgraph(
                first.run_id,
                journal=journal_path,
                definition=wf,
                answers={"agent": "yes"},
                tracer=False,
            )
            return first, done

    first, done = asyncio.run(scenario())
    assert first.state is RunState.NEEDS_INPUT
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert made == ["A1", "B2"]
    assert len(model.requests) == 2
    assert first.usage.llm_calls == 1 and done.usage.llm_calls == 1


async def test_a_journal_without_a_saved_state_still_resumes_by_calling_the_agent_again(
    tmp_path: Path,
) -> None:
    """A run journaled before states were saved: the agent starts again (the old replay)."""
    made: list[str] = []
    model = ScriptedModel([TWO_REFUNDS, TWO_REFUNDS, text("Refunded A1 and B2.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund_tool(made)])
        wf = support_workflow(agent)
        first = await run_workflow(wf, journal=journal, tracer=False)
        journal.flush()
        with sqlite3.connect(tmp_path / "journal.db") as db:
            db.execute(
                "UPDATE events SET body = json_remove(body, '$.data.resume_state')"
                " WHERE state = 'needs_input'"
            )
        assert journal.resume_states(first.run_id) == {}
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert made == ["A1", "A1", "B2"]  # replayed from the start, as before
    assert len(model.requests) == 3


async def test_a_state_that_no_longer_fits_the_agent_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The agent's tools changed between the stop and the resume: it starts again."""
    made: list[str] = []
    model = ScriptedModel([TWO_REFUNDS, TWO_REFUNDS, text("Refunded A1 and B2.")])

    @tool
    def lookup(order: str) -> str:
        """Look an order up."""
        return order

    journal = Journal(tmp_path / "journal.db")
    refund = refund_tool(made)
    async with OpenAIServer(model) as server:
        before = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund])
        first = await run_workflow(support_workflow(before), journal=journal, tracer=False)
        after = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund, lookup])
        with caplog.at_level(logging.WARNING, logger="weft.agents.llm"):
            done = await resume_run(
                first.run_id,
                journal=journal,
                definition=support_workflow(after),
                answers={"agent": "yes"},
                tracer=False,
                force=True,
            )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert made == ["A1", "A1", "B2"]
    warned = [r.getMessage() for r in caplog.records if r.name == "weft.agents.llm"]
    assert len(warned) == 1
    assert "the agent's tools changed (saved: refund)" in warned[0]
    assert "starting again from the beginning" in warned[0]


async def test_a_garbled_state_is_dropped_with_a_warning_naming_the_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made: list[str] = []
    model = ScriptedModel([TWO_REFUNDS, TWO_REFUNDS, text("Refunded A1 and B2.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund_tool(made)])
        wf = support_workflow(agent)
        first = await run_workflow(wf, journal=journal, tracer=False)
        journal.flush()
        with sqlite3.connect(tmp_path / "journal.db") as db:
            db.execute(
                "UPDATE events SET body = json_set(body, '$.data.resume_state.turn', json(?))"
                " WHERE state = 'needs_input'",
                (json.dumps("one"),),
            )
        with caplog.at_level(logging.WARNING, logger="weft.agents.llm"):
            done = await resume_run(
                first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
            )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert made == ["A1", "A1", "B2"]
    warned = [r.getMessage() for r in caplog.records if r.name == "weft.agents.llm"]
    assert len(warned) == 1 and "turn: Input should be a valid integer" in warned[0]


async def test_a_tool_call_keeps_its_idempotency_key_when_the_agent_is_resumed(
    tmp_path: Path,
) -> None:
    """Keyed by its turn and place, not by how many calls the resumed agent made before."""
    keys: dict[str, list[str]] = {}

    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:
        """Refund an order; a person approves refunds over 100."""
        keys.setdefault(order, []).append(ctx.idempotency_key)
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?") != "yes":
            return f"refund of {order} declined"
        return f"refunded {order}"

    model = ScriptedModel([TWO_REFUNDS, text("Refunded A1 and B2.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund])
        wf = support_workflow(agent)
        first = await run_workflow(wf, journal=journal, tracer=False)
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    run = first.run_id
    assert keys == {
        "A1": [f"{run}:agent>refund@1.1"],
        "B2": [f"{run}:agent>refund@1.2", f"{run}:agent>refund@1.2"],
    }


async def test_an_agent_not_answered_yet_stays_stopped_without_asking_its_model(
    tmp_path: Path,
) -> None:
    """Resuming answers one of two stopped agents: the other makes no call at all."""
    made: list[str] = []
    first_model = ScriptedModel([TWO_REFUNDS, text("Done.")])
    second_model = ScriptedModel([TWO_REFUNDS, text("Done too.")])
    journal = Journal(tmp_path / "journal.db")
    refund = refund_tool(made)
    async with OpenAIServer(first_model) as one, OpenAIServer(second_model) as two:
        wf = Workflow("two desks")
        for name, server in (("a", one), ("b", two)):
            agent = LLMAgent(f"desk_{name}", model="m", base_url=server.base_url, tools=[refund])
            wf.node(name, agent, with_={"task": "Refund A1 and B2."})
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert made == ["A1", "A1"]
        half = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"a": "yes"}, tracer=False
        )
        assert half.state is RunState.NEEDS_INPUT
        assert half.nodes["a"].output == "Done."
        assert made == ["A1", "A1", "B2"]
        assert len(second_model.requests) == 1  # b waits: its model was not asked again
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"b": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.error
    assert made == ["A1", "A1", "B2", "B2"]
    assert len(first_model.requests) == 2 and len(second_model.requests) == 2
