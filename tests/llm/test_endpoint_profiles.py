"""Structured output and tool calls adapt to what an OpenAI-compatible endpoint accepts.

The endpoints here are shaped after real servers: llama-cpp-python's server
refuses ``json_schema`` with HTTP 500 ``Input should be 'text' or
'json_object'`` and turns ``json_object`` + ``schema`` into a grammar;
others refuse ``response_format`` or ``parallel_tool_calls`` outright.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from weft import Workflow, tool
from weft.agents import LLMAgent
from weft.agents.chat_model import ChatModel, ModelCallError, ModelSettings
from weft.agents.endpoint_profiles import ENDPOINT_PROFILES, shape_structured
from weft.agents.structured import parse_structured, response_format_for
from weft.protocols import NodeState
from weft.runtime import run_workflow
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, Step, error, text, tool_call


class Verdict(BaseModel):
    """A yes/no answer with its reason."""

    ok: bool
    reason: str


@pytest.fixture(autouse=True)
def fresh_profiles() -> Iterator[None]:
    ENDPOINT_PROFILES.forget()
    yield
    ENDPOINT_PROFILES.forget()


def llama_cpp_like(request: ModelRequest) -> Step:
    """Refuses json_schema as llama-cpp-python's server does; honours json_object."""
    kind = (request.response_format or {}).get("type")
    if kind == "json_schema":
        return error(
            500, "1 validation error: response_format.type: Input should be 'text' or 'json_object'"
        )
    assert kind == "json_object"
    assert "schema" in (request.response_format or {})
    return text(json.dumps({"ok": True, "reason": "grammar"}))


async def run_agent(agent: LLMAgent, actions: list[Any] | None = None) -> Any:
    wf = Workflow("one")
    wf.node("agent", agent, with_={"task": "judge"})
    return await run_workflow(wf, actions=actions or [])


async def test_a_refused_json_schema_steps_down_once_and_is_remembered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = FunctionModel(llama_cpp_like)
    async with OpenAIServer(model) as server:
        base_url = server.base_url
        agent = LLMAgent("judge", base_url=base_url, output_type=Verdict)
        with caplog.at_level(logging.WARNING, logger="weft.models"):
            first = await run_agent(agent)
            second = await run_agent(agent)
    assert first.nodes["agent"].output == {"ok": True, "reason": "grammar"}
    assert second.nodes["agent"].output == {"ok": True, "reason": "grammar"}
    kinds = [(r.response_format or {}).get("type") for r in model.requests]
    # one refusal in the whole process, then straight to the accepted rung
    assert kinds == ["json_schema", "json_object", "json_object"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "weft.models"]
    assert len(warnings) == 1
    assert "json_schema refused, using json_object_schema" in warnings[0]
    assert "Input should be 'text' or 'json_object'" in warnings[0]
    assert base_url in warnings[0]
    # the schema reached the model in the instructions, merged into the one system message
    system = [m for m in model.requests[1].messages if m["role"] == "system"]
    assert len(system) == 1 and '"reason"' in system[0]["content"]


async def test_an_endpoint_without_response_format_gets_instructions_and_prose_is_parsed() -> None:
    def plain(request: ModelRequest) -> Step:
        if request.response_format is not None:
            return error(400, "Unrecognized request argument supplied: response_format")
        assert "JSON Schema" in request.system
        return text('Sure! Here it is: {"ok": false, "reason": "prose"} Hope that helps.')

    model = FunctionModel(plain)
    async with OpenAIServer(model) as server:
        result = await run_agent(LLMAgent("judge", base_url=server.base_url, output_type=Verdict))
    assert result.nodes["agent"].output == {"ok": False, "reason": "prose"}
    kinds = [(r.response_format or {}).get("type") for r in model.requests]
    assert kinds == ["json_schema", "json_object", "json_object", None]


async def test_an_error_that_is_not_about_the_format_does_not_step_down() -> None:
    model = FunctionModel(lambda r: error(400, "context length exceeded"))
    async with OpenAIServer(model) as server:
        base_url = server.base_url
        result = await run_agent(LLMAgent("judge", base_url=server.base_url, output_type=Verdict))
    outcome = result.nodes["agent"]
    assert outcome.state is NodeState.FAILED
    assert len(model.requests) == 1
    assert ENDPOINT_PROFILES.get(base_url, "gpt-4o-mini").structured == "json_schema"
    # the error names the model and the endpoint that refused
    assert outcome.error is not None
    assert f"gpt-4o-mini at {base_url}" in outcome.error.message


async def test_a_refused_parallel_tool_calls_is_dropped_and_the_tool_still_runs() -> None:
    seen: list[Any] = []

    @tool
    def double(n: int) -> int:
        """Double a number."""
        seen.append(n)
        return n * 2

    def no_parallel(request: ModelRequest) -> Step:
        if "parallel_tool_calls" in request.body:
            return error(422, "parallel_tool_calls: extra inputs are not permitted")
        if not request.tool_results():
            return tool_call("double", {"n": 21})
        return text(f"result {request.tool_results()[0]['content']}")

    model = FunctionModel(no_parallel)
    async with OpenAIServer(model) as server:
        base_url = server.base_url
        agent = LLMAgent("calc", base_url=base_url, tools=[double], parallel_tool_calls=False)
        result = await run_agent(agent)
    assert result.nodes["agent"].output == "result 42"
    assert seen == [21]
    assert ["parallel_tool_calls" in r.body for r in model.requests] == [True, False, False]
    assert ENDPOINT_PROFILES.get(base_url, "gpt-4o-mini").parallel_tool_calls is False


async def test_the_llm_span_names_the_rung_it_asked_on() -> None:
    spans: list[dict[str, Any]] = []

    class Sink:
        def record_span(self, span: dict[str, Any]) -> None:
            spans.append(span)

    async with OpenAIServer(FunctionModel(llama_cpp_like)) as server:
        chat = ChatModel(ModelSettings(base_url=server.base_url))
        async with chat.session(Sink()) as session:
            completion = await session.complete(
                [{"role": "user", "content": "judge"}], response_format=response_format_for(Verdict)
            )
    assert completion.structured_mode == "json_object_schema"
    assert spans[-1]["attributes"]["llm.structured_output"] == "json_object_schema"
    assert parse_structured(completion.message.content, Verdict).reason == "grammar"


async def test_when_every_rung_is_refused_the_error_names_the_endpoint() -> None:
    model = FunctionModel(lambda r: error(400, "response_format: not supported"))
    async with OpenAIServer(model) as server:
        chat = ChatModel(ModelSettings(base_url=server.base_url))
        with pytest.raises(ModelCallError, match=f"gpt-4o-mini at {server.base_url}"):
            async with chat.session() as session:
                await session.complete(
                    [{"role": "user", "content": "x"}],
                    response_format=response_format_for(Verdict),
                )
    assert len(model.requests) == 4


def test_shaping_leaves_the_callers_messages_alone() -> None:
    messages = [{"role": "user", "content": "hi"}]
    sent, fmt = shape_structured(messages, response_format_for(Verdict), "instructions")
    assert fmt is None
    assert messages == [{"role": "user", "content": "hi"}]
    assert sent[0]["role"] == "system" and "JSON Schema" in sent[0]["content"]
    assert sent[1:] == messages


async def test_a_forced_tool_choice_applies_to_the_first_turn_only() -> None:
    @tool
    def triple(n: int) -> int:
        """Triple a number."""
        return n * 3

    def answer(request: ModelRequest) -> Step:
        if not request.tool_results():
            return tool_call("triple", {"n": 5})
        return text("done")

    model = FunctionModel(answer)
    async with OpenAIServer(model) as server:
        agent = LLMAgent("calc", base_url=server.base_url, tools=[triple], tool_choice="triple")
        result = await run_agent(agent)
    assert result.nodes["agent"].output == "done"
    assert [r.body.get("tool_choice") for r in model.requests] == [
        {"type": "function", "function": {"name": "triple"}},
        "auto",
    ]


def test_the_request_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from weft.agents.chat_model import resolve_settings

    monkeypatch.setenv("WEFT_MODEL_TIMEOUT", "240")
    assert resolve_settings().timeout == 240.0
    assert resolve_settings(ModelSettings(timeout=5)).timeout == 5.0
    monkeypatch.setenv("WEFT_MODEL_TIMEOUT", "soon")
    with pytest.raises(ModelCallError, match="WEFT_MODEL_TIMEOUT='soon' is not a number"):
        resolve_settings()
    monkeypatch.delenv("WEFT_MODEL_TIMEOUT")
    monkeypatch.setenv("WEFT_MAX_TOKENS", "300")
    assert resolve_settings().max_tokens == 300
    assert resolve_settings(ModelSettings(max_tokens=20)).max_tokens == 20
    monkeypatch.setenv("WEFT_MAX_TOKENS", "-1")
    with pytest.raises(ModelCallError, match="WEFT_MAX_TOKENS='-1' is not a whole number"):
        resolve_settings()
