"""Structured output cut off at the token limit says so, and what gives it room.

A small local model run with ``WEFT_MAX_TOKENS`` (as docs/agents.md advises)
writes JSON that the limit cuts: the parse error alone (``Unterminated string``)
read like the model's mistake. The real client against the scripted server.
"""

from __future__ import annotations

from pydantic import BaseModel

from weft import Workflow
from weft.agents import LLMAgent
from weft.protocols import NodeState
from weft.runtime import run_workflow
from weft.testing import OpenAIServer, ScriptedModel
from weft.testing.steps import Reply


class Note(BaseModel):
    """A note."""

    text: str


async def failure_of(reply: Reply) -> str:
    async with OpenAIServer(ScriptedModel([reply])) as server:
        agent = LLMAgent(
            "noter", base_url=server.base_url, output_type=Note, max_repairs=0, max_tokens=50
        )
        workflow = Workflow("one")
        workflow.node("note", agent, with_={"task": "Write a note."})
        result = await run_workflow(workflow, record=False)
    outcome = result.nodes["note"]
    assert outcome.state is NodeState.FAILED and outcome.error is not None
    assert outcome.error.type == "InvalidOutput"
    return outcome.error.message


async def test_json_cut_at_the_token_limit_names_the_limit_and_how_to_raise_it() -> None:
    message = await failure_of(Reply(content='{"text": "a long no', finish_reason="length"))
    assert "the reply is not valid JSON (Unterminated string" in message
    assert "cut off at the token limit of 50 completion tokens (finish_reason 'length')" in message
    assert "max_tokens or WEFT_MAX_TOKENS" in message


async def test_json_that_is_wrong_on_its_own_says_nothing_of_a_limit() -> None:
    message = await failure_of(Reply(content='{"text": "a long no', finish_reason="stop"))
    assert "the reply is not valid JSON" in message and "cut off" not in message
