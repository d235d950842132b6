"""One agent (or tool) run without writing a workflow: ``run_sync(agent, {"task": ...})``.

What the OpenAI Agents SDK's ``Runner.run_sync(agent, input)`` does, as a one-node
workflow named after the action: recorded, resumable, streamable like any run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import weft
from weft import ActionContext
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call


def test_run_sync_runs_one_agent_with_the_inputs_as_its_arguments() -> None:
    model = ScriptedModel([text("Paris.")])
    with OpenAIServer(model) as server:
        agent = weft.LLMAgent("geo", instructions="Answer briefly.", base_url=server.base_url)
        result = weft.run_sync(agent, {"task": "Capital of France?"})
    assert result.ok, result.error
    assert result.outputs == {"geo": "Paris."}
    assert model.requests[0].last_user_text == "Capital of France?"


def test_a_plain_function_runs_the_same_way() -> None:
    def shout(text: str) -> str:
        return text.upper()

    result = weft.run_sync(shout, {"text": "hi"}, record=False)
    assert result.outputs == {"shout": "HI"}


def test_a_wrong_argument_is_refused_before_the_run_naming_it() -> None:
    agent = weft.LLMAgent("geo", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(weft.DefinitionError) as refused:
        weft.run_sync(agent, {"question": "Capital of France?"}, record=False)
    assert "action 'geo' has no parameter 'question'; parameters: task, context" in str(
        refused.value
    )


@weft.tool
def refund(order_id: str, ctx: ActionContext) -> str:
    """Refund an order once a person approves."""
    if ctx.ask(f"Refund order {order_id}?", choices=["yes", "no"]) != "yes":
        return "declined"
    return f"refunded {order_id}"


def test_an_agent_run_alone_that_asks_is_resumed_with_the_agent_as_definition() -> None:
    model = ScriptedModel([tool_call("refund", {"order_id": "A1"}), text("Done: refunded A1")])
    with OpenAIServer(model) as server:
        agent = weft.LLMAgent("refunds", base_url=server.base_url, tools=[refund])
        stopped = weft.run_sync(agent, {"task": "Refund order A1"})
        assert stopped.state.value == "needs_input"
        error = stopped.nodes["refunds"].error
        assert error is not None and error.details["question"] == "refund asks: Refund order A1?"
        result = asyncio.run(
            weft.resume_run(stopped.run_id, definition=agent, answers={"refunds": "yes"})
        )
    assert result.outputs == {"refunds": "Done: refunded A1"}
    model.assert_complete()


async def test_stream_workflow_streams_one_agent_too() -> None:
    model = ScriptedModel([text("Rivers run to the sea")])
    async with OpenAIServer(model) as server:
        agent = weft.LLMAgent("poet", base_url=server.base_url)
        pieces: list[Any] = []
        stream = weft.stream_workflow(agent, {"task": "A poem about rivers."}, record=False)
        async for event in stream:
            if (piece := weft.text_delta(event)) is not None:
                pieces.append(piece)
    assert "".join(pieces) == "Rivers run to the sea"
    assert stream.result is not None and stream.result.outputs == {"poet": "Rivers run to the sea"}
