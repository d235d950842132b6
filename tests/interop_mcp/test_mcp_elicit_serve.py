"""``weft mcp serve``: an action's question (``ctx.ask``) is an elicitation to the MCP client.

The actions (``weft_asking_actions.py``: a plain ``def`` and an ``async def``)
are served by a real ``weft mcp serve`` process on stdio, to the SDK's own
``Client`` speaking the stateless 2026-07-28 revision (the question is an
``input_required`` result; the SDK sends the call again with the reply) and
the handshake era (``elicitation/create`` in the middle of the call). The
action is called again with the answers until it stops asking.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ElicitResult

from weft import RunState, Workflow
from weft.agents.mcp_action import from_mcp_async
from weft.protocols import ActionCall, ActionState
from weft.protocols.human_input import question_of
from weft.runtime import Journal, resume_run, run_workflow
from weft.testing.processes import weft_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVE = ["-m", "weft", "mcp", "serve", "weft_asking_actions:tools", "--path", str(HERE)]

Replies = list[dict[str, Any] | str]


def served() -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=SERVE, cwd=str(ROOT))


def person(replies: Replies, asked: list[tuple[str, dict[str, Any]]]) -> Callable[..., Any]:
    """An elicitation callback that records each question and gives the next reply
    (a dict is accepted content; ``"decline"``/``"cancel"`` say so)."""
    answers = iter(replies)

    async def answer(_context: Any, params: Any) -> ElicitResult:
        asked.append((params.message, params.requested_schema))
        reply = next(answers)
        if isinstance(reply, str):
            return ElicitResult(action=reply)  # type: ignore[arg-type]
        return ElicitResult(action="accept", content=reply)

    return answer


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """The client's revision: ``auto`` reaches 2026-07-28 with weft; ``legacy`` the handshake."""
    return str(request.param)


async def test_a_plain_def_actions_questions_are_elicited_until_it_answers(mode: str) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    callback = person([{"answer": "yes"}, {"answer": "thanks"}], asked)
    async with Client(served(), mode=mode, elicitation_callback=callback) as client:
        result = await client.call_tool("approve", {"text": "refund"})
    assert not result.is_error
    assert result.structured_content == {"result": "approved: thanks"}
    assert [message for message, _ in asked] == ["Approve the refund?", "A note for the customer?"]
    choice = asked[0][1]["properties"]["answer"]
    assert choice["type"] == "string" and choice["enum"] == ["yes", "no"]
    assert "enum" not in asked[1][1]["properties"]["answer"]  # no choices: any text


async def test_over_http_the_questions_are_elicited_too(mode: str) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    callback = person([{"answer": "yes"}, {"answer": "thanks"}], asked)
    args = (*SERVE[2:], "--http", "127.0.0.1:0")
    async with weft_process(*args, ready=r"at (http://\S+/mcp)", cwd=ROOT) as server:
        url = server.ready.group(1)
        async with Client(url, mode=mode, elicitation_callback=callback) as client:
            result = await client.call_tool("approve", {"text": "refund"})
    assert result.structured_content == {"result": "approved: thanks"}
    assert len(asked) == 2


async def test_choices_that_are_numbers_are_an_enum_of_numbers(mode: str) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    async with Client(
        served(), mode=mode, elicitation_callback=person([{"answer": 10}], asked)
    ) as client:
        result = await client.call_tool("scale", {"n": 3})
    assert asked[0][1]["properties"]["answer"] == {
        "type": "integer",
        "title": "Answer",
        "enum": [2, 10],
    }
    assert result.structured_content == {"result": 30}


async def test_a_number_choice_replied_as_text_comes_back_as_its_number(mode: str) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    async with Client(
        served(), mode=mode, elicitation_callback=person([{"answer": "10"}], asked)
    ) as client:
        result = await client.call_tool("scale", {"n": 3})
    assert result.structured_content == {"result": 30}  # the number 10, not the text "10"


async def test_choices_true_and_false_are_a_boolean_field(mode: str) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    async with Client(
        served(), mode=mode, elicitation_callback=person([{"answer": False}], asked)
    ) as client:
        result = await client.call_tool("confirm", {})
    assert asked[0][1]["properties"]["answer"]["type"] == "boolean"
    assert result.structured_content == {"result": False}


@pytest.mark.parametrize("reply", ["decline", "cancel"])
async def test_a_declined_or_cancelled_question_is_the_needs_input_error(
    mode: str, reply: str
) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    async with Client(served(), mode=mode, elicitation_callback=person([reply], asked)) as client:
        result = await client.call_tool("approve", {"text": "refund"})
    assert len(asked) == 1
    assert result.is_error
    assert result.content[0].text == "NeedsInput: approve: Approve the refund?"  # type: ignore[union-attr]
    assert result.meta is not None and result.meta["weft/state"] == "needs_input"


async def test_a_client_without_elicitation_gets_the_needs_input_error(mode: str) -> None:
    async with Client(served(), mode=mode) as client:
        result = await client.call_tool("approve", {"text": "refund"})
    assert result.is_error
    assert result.content[0].text == "NeedsInput: approve: Approve the refund?"  # type: ignore[union-attr]
    assert result.meta is not None and result.meta["weft/error"]["details"]["choices"] == [
        "yes",
        "no",
    ]


async def test_weft_calling_weft_answers_the_question_from_the_calls_answers() -> None:
    tools = await from_mcp_async([sys.executable, *SERVE])
    try:
        action = tools["approve"]
        asked = await action.invoke(ActionCall(action="approve", arguments={"text": "refund"}))
        assert asked.state is ActionState.NEEDS_INPUT
        assert question_of(asked.error) == {
            "question": "Approve the refund?",
            "choices": ["yes", "no"],
            "index": 0,
        }
        second = await action.invoke(
            ActionCall(action="approve", arguments={"text": "refund"}, answers=("yes",))
        )
        assert question_of(second.error)["index"] == 1  # type: ignore[index]
        done = await action.invoke(
            ActionCall(action="approve", arguments={"text": "refund"}, answers=("yes", "ok"))
        )
        assert done.state is ActionState.OK
        assert done.output == {"result": "approved: ok"}  # a string output schema, wrapped
    finally:
        await tools.aclose()


async def test_weft_calling_weft_sees_choices_that_are_numbers_as_numbers() -> None:
    tools = await from_mcp_async([sys.executable, *SERVE])
    try:
        asked = await tools["pick"].invoke(ActionCall(action="pick"))
        assert question_of(asked.error)["choices"] == [1, 2, 3]  # type: ignore[index]
        for answer in (2, "2"):  # as `weft resume --answer` reads it, or as text
            done = await tools["pick"].invoke(ActionCall(action="pick", answers=(answer,)))
            assert done.output == {"result": "int 2"}, answer  # the number, not the text
    finally:
        await tools.aclose()


async def test_weft_resume_answers_a_number_choice_of_a_weft_mcp_server(tmp_path: Path) -> None:
    tools = await from_mcp_async([sys.executable, *SERVE])
    try:
        wf = Workflow("picks")
        wf.node("pick", tools["pick"])
        wf.output("picked", "${pick}")
        journal = Journal(tmp_path / "journal.db")
        stopped = await run_workflow(wf, {}, journal=journal, tracer=False)
        assert question_of(stopped.nodes["pick"].error)["choices"] == [1, 2, 3]  # type: ignore[index]
        done = await resume_run(
            stopped.run_id, journal=journal, definition=wf, answers={"pick": 3}, tracer=False
        )
        assert done.state is RunState.SUCCEEDED
        assert done.outputs == {"picked": {"result": "int 3"}}
    finally:
        await tools.aclose()
