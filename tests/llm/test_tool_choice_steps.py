"""A forced ``tool_choice`` steps down when an endpoint cannot take it, once per endpoint.

The scripted endpoints here answer as llama-cpp-python's server does: a
``tool_choice: "required"`` crashes its handler, and it answers HTTP 500
with ``{"error": {"message": ""}}``. weft steps down at once (no retry spent):
to the one tool named when only one is offered, else to ``"auto"`` with the
requirement restated in the instructions; the rung is remembered and traced.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from weft import Workflow, tool
from weft.agents import ChatModel, LLMAgent, ModelCallError, ModelSettings
from weft.agents.endpoint_profiles import ENDPOINT_PROFILES
from weft.protocols import NodeState, RetryPolicy
from weft.runtime import run_workflow
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, Step, error, text, tool_call
from weft.testing.steps import raw

#: What llama-cpp-python's server answers when its handler raises without a message.
EMPTY_500 = json.dumps(
    {"error": {"message": "", "type": "internal_server_error", "param": None, "code": None}}
)


@pytest.fixture(autouse=True)
def fresh_profiles() -> Iterator[None]:
    ENDPOINT_PROFILES.forget()
    yield
    ENDPOINT_PROFILES.forget()


@tool
def triple(n: int) -> int:
    """Triple a number."""
    return 3 * n


@tool
def halve(n: int) -> float:
    """Halve a number."""
    return n / 2


def llama_cpp_like(request: ModelRequest) -> Step:
    """Crashes on ``required`` as llama-cpp-python's server does; honours the other choices."""
    choice = request.body.get("tool_choice")
    if choice == "required":
        return raw(EMPTY_500, status=500)
    if request.messages[-1]["role"] == "tool":
        return text("done")
    return tool_call("triple", {"n": 2})


class Spans:
    """A context that keeps the ``llm`` spans of its requests."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []

    def record_span(self, span: dict[str, Any]) -> None:
        self.spans.append(span)


async def run_agent(agent: LLMAgent, actions: list[Any]) -> Any:
    workflow = Workflow("one")
    workflow.node("agent", agent, with_={"task": "triple 2"})
    return await run_workflow(workflow, actions=actions, record=False)


async def test_required_with_one_tool_steps_down_to_naming_it_and_is_remembered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = FunctionModel(llama_cpp_like)
    async with OpenAIServer(model) as server:
        base_url = server.base_url
        agent = LLMAgent("calc", base_url=base_url, tools=[triple], tool_choice="required")
        with caplog.at_level(logging.WARNING, logger="weft.models"):
            first = await run_agent(agent, [triple])
            second = await run_agent(agent, [triple])
    for result in (first, second):
        assert result.nodes["agent"].state is NodeState.SUCCEEDED
        assert result.nodes["agent"].output == "done"
    named = {"type": "function", "function": {"name": "triple"}}
    # one refused request in the whole process, no retry of it; then the named tool at once
    assert [r.body.get("tool_choice") for r in model.requests] == [
        "required",
        named,
        "auto",
        named,
        "auto",
    ]
    warnings = [r.getMessage() for r in caplog.records if r.name == "weft.models"]
    assert len(warnings) == 1
    assert 'tool_choice "required" refused' in warnings[0]
    assert "the server failed without saying why" in warnings[0]
    profile = ENDPOINT_PROFILES.get(base_url, "gpt-4o-mini")
    assert profile.tool_choice_required is False and profile.tool_choice_named is True


async def test_required_with_several_tools_becomes_auto_with_the_requirement_restated() -> None:
    model = FunctionModel(llama_cpp_like)
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "calc",
            base_url=server.base_url,
            instructions="You do arithmetic.",
            tools=[triple, halve],
            tool_choice="required",
        )
        result = await run_agent(agent, [triple, halve])
    assert result.nodes["agent"].output == "done"
    first, stepped = model.requests[0], model.requests[1]
    assert stepped.body["tool_choice"] == "auto"
    # restated in the one system message, after the agent's own instructions
    system = [m for m in stepped.messages if m["role"] == "system"]
    assert len(system) == 1
    assert system[0]["content"].startswith("You do arithmetic.")
    assert "You must call one of the tools (triple, halve)" in system[0]["content"]
    assert "You must call" not in json.dumps(first.messages)


async def test_a_refused_named_choice_becomes_auto_naming_the_tool() -> None:
    def no_named(request: ModelRequest) -> Step:
        if isinstance(request.body.get("tool_choice"), dict):
            return error(400, "tool_choice: only 'auto' and 'none' are supported")
        if request.messages[-1]["role"] == "tool":
            return text("done")
        return tool_call("triple", {"n": 2})

    model = FunctionModel(no_named)
    async with OpenAIServer(model) as server:
        agent = LLMAgent("calc", base_url=server.base_url, tools=[triple], tool_choice="triple")
        result = await run_agent(agent, [triple])
    assert result.nodes["agent"].output == "done"
    assert [r.body.get("tool_choice") for r in model.requests][:2] == [
        {"type": "function", "function": {"name": "triple"}},
        "auto",
    ]
    assert "You must call the tool triple now" in model.requests[1].system


async def test_required_steps_past_a_refused_name_to_auto() -> None:
    def auto_only(request: ModelRequest) -> Step:
        choice = request.body.get("tool_choice")
        if choice == "required":
            return raw(EMPTY_500, status=500)
        if isinstance(choice, dict):
            return raw(EMPTY_500, status=500)
        return text("done") if request.messages[-1]["role"] == "tool" else tool_call("triple", {})

    model = FunctionModel(auto_only)
    async with OpenAIServer(model) as server:
        chat = ChatModel(ModelSettings(base_url=server.base_url))
        ctx = Spans()
        async with chat.session(ctx) as session:
            tools: Any = [{"type": "function", "function": {"name": "triple", "parameters": {}}}]
            done = await session.complete(
                [{"role": "user", "content": "go"}], tools=tools, tool_choice="required"
            )
    assert done.message.tool_calls
    assert [r.body.get("tool_choice") for r in model.requests] == [
        "required",
        {"type": "function", "function": {"name": "triple"}},
        "auto",
    ]
    # the span says what was sent in place of what was asked
    attributes = ctx.spans[-1]["attributes"]
    assert attributes["llm.tool_choice"] == "auto"
    assert attributes["llm.tool_choice_requested"] == "required"


async def test_a_choice_sent_as_asked_leaves_the_span_attributes_empty() -> None:
    model = FunctionModel(lambda r: text("hi"))
    async with OpenAIServer(model) as server:
        chat = ChatModel(ModelSettings(base_url=server.base_url))
        ctx = Spans()
        async with chat.session(ctx) as session:
            tools: Any = [{"type": "function", "function": {"name": "triple", "parameters": {}}}]
            await session.complete(
                [{"role": "user", "content": "go"}], tools=tools, tool_choice="required"
            )
    assert ctx.spans[-1]["attributes"]["llm.tool_choice"] is None


async def test_an_empty_5xx_names_what_was_sent_that_may_have_caused_it() -> None:
    model = FunctionModel(lambda r: raw(EMPTY_500, status=500))
    async with OpenAIServer(model) as server:
        base_url = server.base_url
        chat = ChatModel(
            ModelSettings(base_url=base_url),
            retry=RetryPolicy(max_attempts=2, initial_delay=0, max_delay=0),
        )
        tools: Any = [{"type": "function", "function": {"name": "triple", "parameters": {}}}]
        with pytest.raises(ModelCallError) as caught:
            async with chat.session() as session:
                await session.complete(
                    [{"role": "user", "content": "go"}],
                    tools=tools,
                    tool_choice="auto",
                    parallel_tool_calls=False,
                )
    message = str(caught.value)
    assert message.startswith(
        f"HTTP 500 from gpt-4o-mini at {base_url}: the server failed without saying why; "
        'the request sent tool_choice="auto", parallel_tool_calls=false, 1 tool(s): '
        "one may be what it cannot handle"
    )
    assert message.endswith("(after 2 attempts)")
    # "auto" forces nothing: not taken for a refusal, and nothing learned
    assert ENDPOINT_PROFILES.get(base_url, "gpt-4o-mini").tool_choice_required is True
