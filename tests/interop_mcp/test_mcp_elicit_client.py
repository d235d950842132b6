"""An MCP server's tool asks the user (elicitation) while weft calls it: weft's ``ask``.

The server (``mcp_asking_server.py``, the SDK's ``MCPServer``) runs as a real
process on stdio, once speaking the stateless 2026-07-28 revision (its
questions come back as ``input_required`` results) and once only the
handshake era (``elicitation/create`` in the middle of the call). Either way
a question with no answer ends the weft call ``needs_input`` with it, and the
call's answers (``ActionCall.answers``, by order) answer the server.
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
async def tools(request: pytest.FixtureRequest) -> AsyncIterator[McpTools]:
    argv = [sys.executable, str(SERVER)] + (["legacy"] if request.param == "legacy" else [])
    served = await from_mcp_async(argv)
    try:
        yield served
    finally:
        await served.aclose()


async def call(tools: McpTools, name: str, *answers: Any, **arguments: Any) -> ActionResult:
    return await tools[name].invoke(ActionCall(action=name, arguments=arguments, answers=answers))


async def test_a_question_without_an_answer_ends_the_call_needs_input_with_it(
    tools: McpTools,
) -> None:
    result = await call(tools, "refund", amount=3)
    assert result.state is ActionState.NEEDS_INPUT
    assert question_of(result.error) == {
        "question": "Refund 3 EUR?",
        "choices": ["approve", "reject"],  # the requested schema's enum
        "index": 0,
    }


async def test_the_calls_answer_answers_the_servers_question(tools: McpTools) -> None:
    result = await call(tools, "refund", "approve", amount=3)
    assert result.state is ActionState.OK
    assert result.output == {"result": "approved 3"}


async def test_questions_are_answered_in_the_order_the_server_asks_them(tools: McpTools) -> None:
    first = await call(tools, "signup")
    assert question_of(first.error) == {"question": "Your name?", "choices": None, "index": 0}
    second = await call(tools, "signup", "Ada")
    assert question_of(second.error) == {
        "question": "Subscribe Ada to the newsletter?",
        "choices": [True, False],  # a boolean field
        "index": 1,
    }
    done = await call(tools, "signup", "Ada", True)
    assert done.output == {"result": "Ada subscribed=True"}


async def test_a_form_of_several_fields_is_answered_with_an_object(tools: McpTools) -> None:
    asked = await call(tools, "contact")
    assert question_of(asked.error)["question"] == (  # type: ignore[index]
        "How can we reach you? (answer with an object of: email, phone)"
    )
    done = await call(tools, "contact", {"email": "ada@example.org", "phone": "42"})
    assert done.output == {"result": "ada@example.org / 42"}


async def test_an_answer_that_does_not_fit_the_form_is_an_error_naming_its_fields(
    tools: McpTools,
) -> None:
    result = await call(tools, "contact", "ada")
    assert result.state is ActionState.ERROR
    assert result.error is not None and result.error.type == "McpElicitation"
    assert "must be an object of the fields email, phone" in result.error.message


async def test_weft_resume_answers_an_mcp_tools_question(tools: McpTools, tmp_path: Path) -> None:
    wf = Workflow("refunds")
    wf.node("refund", tools["refund"], with_={"amount": 5})
    wf.output("result", "${refund}")
    journal = Journal(tmp_path / "journal.db")

    stopped = await run_workflow(wf, {}, journal=journal, tracer=False)
    assert stopped.state is RunState.NEEDS_INPUT
    assert question_of(stopped.nodes["refund"].error)["question"] == "Refund 5 EUR?"  # type: ignore[index]

    done = await resume_run(
        stopped.run_id, journal=journal, definition=wf, answers={"refund": "reject"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED
    assert done.outputs == {"result": {"result": "rejectd 5"}}
