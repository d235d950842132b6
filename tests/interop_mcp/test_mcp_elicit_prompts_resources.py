"""An MCP server's prompt or resource asks the user (elicitation): weft's ``ask``, as for a tool.

``mcp_asking_server.py`` (the SDK's ``MCPServer``) runs as a real process on
stdio, once speaking the stateless 2026-07-28 revision (the question is an
``input_required`` result of ``prompts/get`` or ``resources/read``) and once
only the handshake era (``elicitation/create`` in the middle of the request).
A question without an answer ends the call ``needs_input``; the call's
answers reply to it, and ``weft resume --answer`` gives them.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from weft import RunState, Workflow
from weft.agents.mcp_action import McpTools, from_mcp_async
from weft.protocols import ActionCall, ActionResult, ActionState
from weft.protocols.human_input import question_of
from weft.runtime import Journal, resume_run, run_workflow

SERVER = Path(__file__).with_name("mcp_asking_server.py")


@pytest_asyncio.fixture(params=["2026-07-28", "legacy"])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[McpTools]:
    argv = [sys.executable, str(SERVER)] + (["legacy"] if request.param == "legacy" else [])
    tools = await from_mcp_async(argv, resources=True, prompts=True)
    try:
        yield tools
    finally:
        await tools.aclose()


async def call(tools: McpTools, name: str, *answers: Any, **arguments: Any) -> ActionResult:
    return await tools[name].invoke(ActionCall(action=name, arguments=arguments, answers=answers))


async def test_a_prompts_question_without_an_answer_ends_the_call_needs_input(
    served: McpTools,
) -> None:
    result = await call(served, "prompt.greeting")
    assert result.state is ActionState.NEEDS_INPUT, result.error
    assert question_of(result.error) == {"question": "Whose greeting?", "choices": None, "index": 0}


async def test_the_calls_answer_answers_a_prompts_question(served: McpTools) -> None:
    result = await call(served, "prompt.greeting", "Ada")
    assert result.state is ActionState.OK, result.error
    assert result.output == [{"role": "user", "content": "Write a greeting for Ada."}]


async def test_a_resources_question_without_an_answer_ends_the_call_needs_input(
    served: McpTools,
) -> None:
    result = await call(served, "read_resource", uri="vault://7")
    assert result.state is ActionState.NEEDS_INPUT, result.error
    assert question_of(result.error) == {
        "question": "The code of box 7?",
        "choices": None,
        "index": 0,
    }


async def test_the_calls_answer_answers_a_resources_question(served: McpTools) -> None:
    result = await call(served, "read_resource", "1234", uri="vault://7")
    assert result.state is ActionState.OK, result.error
    assert result.output == "box 7 opened with 1234"


async def test_weft_resume_answers_a_prompts_and_a_resources_question(
    served: McpTools, tmp_path: Path
) -> None:
    wf = Workflow("greetings")
    greet = wf.node("greet", served["prompt.greeting"])
    # one after the other: over the handshake era, questions of two calls at once on one
    # connection cannot be told apart (nothing on the wire names the call), and are refused
    wf.node("open", served["read_resource"], with_={"uri": "vault://9"}, after=[greet])
    wf.output("greeting", "${greet}")
    wf.output("box", "${open}")
    journal = Journal(tmp_path / "journal.db")

    stopped = await run_workflow(wf, {}, journal=journal, tracer=False)
    assert stopped.state is RunState.NEEDS_INPUT
    assert question_of(stopped.nodes["greet"].error)["question"] == "Whose greeting?"  # type: ignore[index]

    again = await resume_run(
        stopped.run_id, journal=journal, definition=wf, answers={"greet": "Grace"}, tracer=False
    )
    assert again.state is RunState.NEEDS_INPUT
    assert question_of(again.nodes["open"].error)["question"] == "The code of box 9?"  # type: ignore[index]

    done = await resume_run(
        stopped.run_id, journal=journal, definition=wf, answers={"open": "0000"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED
    assert done.outputs == {
        "greeting": [{"role": "user", "content": "Write a greeting for Grace."}],
        "box": "box 9 opened with 0000",
    }
