"""LLMAgent input and output checks (guardrails): what passes, is re-asked, or stops a call."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from weft import ActionContext, Workflow, tool
from weft.agents import LLMAgent
from weft.runtime import resume_run, run_workflow
from weft.runtime.engine.executor import RunResult
from weft.testing import OpenAIServer, ScriptedModel, json_output, text, tool_call

CARD = re.compile(r"\b(?:\d[ -]?){13,16}\b")


def no_card_numbers(answer: Any) -> str | None:
    """Reject an answer that holds something shaped like a payment card number."""
    return "it contains a card number" if CARD.search(str(answer)) else None


async def run_agent(
    agent: LLMAgent, task: str = "Help me", actions: list[Any] | None = None
) -> RunResult:
    wf = Workflow("checked")
    wf.node("agent", agent, with_={"task": task})
    return await run_workflow(wf, actions=actions or [], record=False)


async def test_an_answer_an_output_check_rejects_is_asked_for_again_with_the_reason() -> None:
    model = ScriptedModel(
        [
            text("Your card 4111 1111 1111 1111 is on file."),
            text("Your card ending 1111 is on file."),
        ]
    )
    async with OpenAIServer(model) as server:
        agent = LLMAgent("billing", base_url=server.base_url, output_checks=[no_card_numbers])
        result = await run_agent(agent)
    assert result.outputs == {"agent": "Your card ending 1111 is on file."}
    retry = model.requests[1].messages
    assert retry[-2] == {
        "role": "assistant",
        "content": "Your card 4111 1111 1111 1111 is on file.",
    }
    assert retry[-1]["content"].startswith(
        "Your previous answer was rejected: it contains a card number."
    )
    model.assert_complete()


async def test_without_repairs_a_rejected_answer_fails_naming_the_check_not_the_answer() -> None:
    model = ScriptedModel([text("Card: 4111111111111111")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "billing", base_url=server.base_url, output_checks=[no_card_numbers], max_repairs=0
        )
        result = await run_agent(agent)
    error = result.nodes["agent"].error
    assert error is not None and error.type == "OutputRejected"
    assert error.message == (
        "billing: output check no_card_numbers rejected the answer: it contains a card number "
        "(after 0 repair attempt(s))"
    )
    assert "4111" not in (result.error or "")
    assert len(model.requests) == 1


async def test_an_answer_still_rejected_after_the_repairs_fails_the_call() -> None:
    model = ScriptedModel([text("4111111111111111"), text("again 4111111111111111")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("billing", base_url=server.base_url, output_checks=[no_card_numbers])
        result = await run_agent(agent)
    error = result.nodes["agent"].error
    assert error is not None and error.type == "OutputRejected"
    assert error.message.endswith("(after 1 repair attempt(s))")
    model.assert_complete()


class Reply(BaseModel):
    department: str
    reply: str


async def test_an_output_check_gets_the_validated_structured_answer() -> None:
    seen: list[Any] = []

    def only_known_departments(answer: dict[str, Any]) -> str | None:
        seen.append(answer)
        return None if answer["department"] in ("billing", "refunds") else "unknown department"

    model = ScriptedModel(
        [
            json_output({"department": "sales", "reply": "hi"}),
            json_output({"department": "billing", "reply": "hi"}),
        ]
    )
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "triage",
            base_url=server.base_url,
            output_type=Reply,
            output_checks=[only_known_departments],
        )
        result = await run_agent(agent)
    assert result.outputs == {"agent": {"department": "billing", "reply": "hi"}}
    assert seen == [
        {"department": "sales", "reply": "hi"},
        {"department": "billing", "reply": "hi"},
    ]


async def test_an_input_check_that_rejects_ends_the_call_before_any_model_request() -> None:
    def no_passwords(arguments: dict[str, Any]) -> str | None:
        return "do not send passwords" if "password" in arguments["task"] else None

    model = ScriptedModel([text("never sent")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", base_url=server.base_url, input_checks=[no_passwords])
        result = await run_agent(agent, "my password is hunter2")
    error = result.nodes["agent"].error
    assert error is not None and error.type == "InputRejected"
    assert (
        error.message
        == "support: input check no_passwords rejected the input: do not send passwords"
    )
    assert model.requests == []


async def test_an_input_that_passes_its_checks_reaches_the_model() -> None:
    model = ScriptedModel([text("fine")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", base_url=server.base_url, input_checks=[lambda args: None])
        result = await run_agent(agent, "hello")
    assert result.outputs == {"agent": "fine"}


async def test_a_plain_def_check_runs_in_a_worker_thread() -> None:
    threads: list[threading.Thread] = []

    def record_thread(answer: Any) -> None:
        threads.append(threading.current_thread())

    model = ScriptedModel([text("ok")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("a", base_url=server.base_url, output_checks=[record_thread])
        await run_agent(agent)
    assert threads and threads[0] is not threading.main_thread()


@tool
def classify(text: str) -> str:
    """A stand-in for a classifier agent: 'unsafe' when the text mentions a weapon."""
    return "unsafe" if "weapon" in text else "safe"


async def test_an_async_check_may_call_other_actions_through_the_context() -> None:
    async def classifier_says_safe(answer: str, ctx: ActionContext) -> str | None:
        verdict = await ctx.invoke("classify", {"text": answer})
        return None if verdict.output == "safe" else f"the classifier said {verdict.output}"

    model = ScriptedModel([text("here is a weapon"), text("here is a flower")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("a", base_url=server.base_url, output_checks=[classifier_says_safe])
        result = await run_agent(agent, actions=[classify])
    assert result.outputs == {"agent": "here is a flower"}
    assert model.requests[1].last_user_text.startswith(
        "Your previous answer was rejected: the classifier said unsafe."
    )


async def test_a_check_that_raises_fails_the_call_naming_the_check() -> None:
    def broken(answer: Any) -> None:
        raise KeyError("department")

    model = ScriptedModel([text("ok")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("a", base_url=server.base_url, output_checks=[broken])
        result = await run_agent(agent)
    error = result.nodes["agent"].error
    assert error is not None and error.type == "CheckFailed"
    assert error.message == "a: check broken raised KeyError: 'department'"


async def test_a_check_that_answers_no_verdict_fails_the_call_saying_what_a_check_answers() -> None:
    model = ScriptedModel([text("ok")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("a", base_url=server.base_url, output_checks=[len])
        result = await run_agent(agent)
    error = result.nodes["agent"].error
    assert error is not None and error.type == "CheckFailed"
    assert "check len answered int; a check answers None" in error.message


def test_a_plain_def_check_with_two_parameters_is_refused_when_the_agent_is_made() -> None:
    def needs_ctx(answer: Any, ctx: ActionContext) -> None:
        return None

    with pytest.raises(
        TypeError, match=r"output_checks\[0\] needs_ctx: a plain def check takes one"
    ):
        LLMAgent("a", output_checks=[needs_ctx])


def test_checks_must_be_a_list_of_functions() -> None:
    with pytest.raises(TypeError, match=r"input_checks: give a list of functions"):
        LLMAgent("a", input_checks=no_card_numbers)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"output_checks\[1\]: 'x' is not a function"):
        LLMAgent("a", output_checks=[no_card_numbers, "x"])  # type: ignore[list-item]


@tool
def approve(order_id: str, ctx: ActionContext) -> str:
    """Ask a person before going on."""
    return f"approved {order_id}: {ctx.ask(f'Approve {order_id}?', choices=['yes', 'no'])}"


async def test_a_call_resumed_from_its_saved_conversation_is_not_checked_again() -> None:
    checked: list[Any] = []

    def count(arguments: dict[str, Any]) -> None:
        checked.append(arguments)

    model = ScriptedModel([tool_call("approve", {"order_id": "A1"}), text("done")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("a", base_url=server.base_url, tools=[approve], input_checks=[count])
        wf = Workflow("checked")
        wf.node("agent", agent, with_={"task": "Approve A1"})
        stopped = await run_workflow(wf)
        assert stopped.state.value == "needs_input"
        result = await resume_run(stopped.run_id, definition=wf, answers={"agent": "yes"})
    assert result.outputs == {"agent": "done"}
    assert checked == [{"task": "Approve A1"}]
    model.assert_complete()
