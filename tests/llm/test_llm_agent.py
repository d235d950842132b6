"""LLMAgent on the real openai client: answers, tools, Agent-as-Tool, structured output, retries."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel

from weft import Workflow, tool
from weft.agents import LLMAgent, ModelSettings
from weft.protocols import ActionState, NodeState, RetryPolicy
from weft.runtime import run_workflow
from weft.runtime.engine.executor import RunResult
from weft.testing import (
    FunctionModel,
    ModelRequest,
    OpenAIServer,
    ScriptedModel,
    error,
    json_output,
    malformed_json,
    rate_limited,
    raw,
    server_error,
    text,
    tool_call,
    tool_calls,
)


async def run_agent(agent: Any, task: str = "do it", actions: list[Any] | None = None) -> RunResult:
    wf = Workflow("one-agent")
    wf.node("agent", agent, with_={"task": task})
    return await run_workflow(wf, actions=actions or [])


@tool
def word_count(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


async def test_a_text_answer_is_the_output() -> None:
    model = ScriptedModel([text("Paris.")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "geo", instructions="Answer briefly.", model="m-1", base_url=server.base_url
        )
        result = await run_agent(agent, "Capital of France?")
    assert result.outputs == {"agent": "Paris."}
    request = model.requests[0]
    assert request.model == "m-1"
    assert request.messages == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert request.tools == []
    model.assert_complete()


async def test_context_is_given_to_the_model_after_the_task() -> None:
    model = ScriptedModel([text("ok")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("a", base_url=server.base_url)
        wf = Workflow("ctx")
        wf.node("agent", agent, with_={"task": "Summarise", "context": {"notes": "x y"}})
        await run_workflow(wf)
    assert model.requests[0].last_user_text.startswith("Summarise\n\nContext:\n")
    assert '"notes": "x y"' in model.requests[0].last_user_text


async def test_a_tool_call_runs_the_weft_action_and_its_result_goes_back() -> None:
    model = ScriptedModel([tool_call("word_count", {"text": "one two three"}), text("3 words")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("writer", base_url=server.base_url, tools=["word_count"])
        result = await run_agent(agent, "How long is it?", actions=[word_count])
    assert result.outputs == {"agent": "3 words"}
    offered = model.requests[0].tools[0]["function"]
    assert offered["name"] == "word_count"
    assert offered["parameters"]["properties"]["text"]["type"] == "string"
    [tool_result] = model.requests[1].tool_results()
    assert tool_result["content"] == "3"
    model.assert_complete()


async def test_a_tool_given_as_an_object_comes_with_the_agent() -> None:
    model = ScriptedModel([tool_call("word_count", {"text": "one two three"}), text("3 words")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("writer", base_url=server.base_url, tools=[word_count])
        result = await run_agent(agent, "How long is it?")  # no actions=[...]
    assert result.outputs == {"agent": "3 words"}
    assert model.requests[0].tools[0]["function"]["name"] == "word_count"
    [tool_result] = model.requests[1].tool_results()
    assert tool_result["content"] == "3"
    model.assert_complete()


async def test_a_plain_function_in_tools_becomes_a_tool() -> None:
    def shout(text: str) -> str:
        """Say it louder."""
        return text.upper()

    model = ScriptedModel([tool_call("shout", {"text": "hi"}), text("HI")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("writer", base_url=server.base_url, tools=[shout])
        result = await run_agent(agent)
    assert result.outputs == {"agent": "HI"}
    assert model.requests[0].tools[0]["function"]["description"] == "Say it louder."
    assert model.requests[1].tool_results()[0]["content"] == "HI"


async def test_an_action_the_run_already_has_under_that_name_is_the_one_called() -> None:
    @tool(name="word_count")
    def counted_by_the_run(text: str) -> int:
        """Count the words of a text, the run's way."""
        return 42

    model = ScriptedModel([tool_call("word_count", {"text": "one two"}), text("done")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("writer", base_url=server.base_url, tools=[word_count])
        result = await run_agent(agent, actions=[counted_by_the_run])
    assert result.ok, result.error
    assert model.requests[1].tool_results()[0]["content"] == "42"


def test_a_function_registered_beside_the_agent_that_bundles_it_is_no_clash() -> None:
    from weft.runtime.engine.registry import ActionRegistry

    def shout(text: str) -> str:
        """Say it louder."""
        return text.upper()

    agent = LLMAgent("writer", tools=[shout])
    registry = ActionRegistry([agent, shout])  # as `weft ask --agents` registers a list
    assert sorted(registry.names()) == ["shout", "writer"]
    assert registry.get("shout") is not agent.bundled_actions[0]  # the one registered wins


def test_tools_must_be_actions_functions_or_names() -> None:
    with pytest.raises(TypeError, match="tools: 42 is not an action, a function or an action's"):
        LLMAgent("writer", tools=[42])


async def test_parallel_tool_calls_run_concurrently() -> None:
    # Each call waits until the other one has started: run one after the
    # other, the first would wait in vain and fail.
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    @tool
    async def probe(name: str) -> str:
        """Report when both probes are in flight."""
        started[name].set()
        other = "b" if name == "a" else "a"
        await asyncio.wait_for(started[other].wait(), timeout=5)
        return f"{name} overlapped"

    model = ScriptedModel(
        [tool_calls(("probe", {"name": "a"}), ("probe", {"name": "b"})), text("both done")]
    )
    async with OpenAIServer(model) as server:
        agent = LLMAgent("p", base_url=server.base_url, tools=["probe"])
        result = await run_agent(agent, actions=[probe])
    assert result.outputs == {"agent": "both done"}
    contents = [m["content"] for m in model.requests[1].tool_results()]
    assert contents == ["a overlapped", "b overlapped"]


async def test_an_agent_calls_another_llm_agent_as_a_tool() -> None:
    manager_model = ScriptedModel(
        [
            tool_call("researcher", {"task": "Find the boiling point of water"}, usage=(20, 5)),
            text("Water boils at 100 °C at sea level.", usage=(40, 9)),
        ]
    )
    researcher_model = ScriptedModel([text("100 °C at 1 atm.", usage=(12, 4))])
    models = {"manager-m": manager_model, "researcher-m": researcher_model}
    async with OpenAIServer(models) as server:
        researcher = LLMAgent(
            "researcher",
            description="Finds facts.",
            model="researcher-m",
            base_url=server.base_url,
        )
        manager = LLMAgent(
            "manager", model="manager-m", base_url=server.base_url, tools=["researcher"]
        )
        result = await run_agent(manager, "When does water boil?", actions=[researcher])
    assert result.outputs == {"agent": "Water boils at 100 °C at sea level."}
    assert researcher_model.requests[0].last_user_text == "Find the boiling point of water"
    offered = manager_model.requests[0].tools[0]["function"]
    assert offered["description"] == "Finds facts."
    assert offered["parameters"]["required"] == ["task"]
    assert [m["content"] for m in manager_model.requests[1].tool_results()] == ["100 °C at 1 atm."]
    assert (result.usage.llm_calls, result.usage.prompt_tokens, result.usage.completion_tokens) == (
        3,
        72,
        18,
    )
    manager_model.assert_complete()
    researcher_model.assert_complete()


async def test_tool_problems_are_reported_to_the_model_not_raised() -> None:
    @tool
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("boom")

    model = ScriptedModel(
        [
            tool_calls(
                ("no_such_tool", {}),
                ("word_count", "{not json"),
                ("word_count", {"wrong": 1}),
                ("explode", {}),
            ),
            text("recovered"),
        ]
    )
    async with OpenAIServer(model) as server:
        agent = LLMAgent("t", base_url=server.base_url, tools=["word_count", "explode"])
        result = await run_agent(agent, actions=[word_count, explode])
    assert result.outputs == {"agent": "recovered"}
    errors = [json.loads(m["content"])["error"] for m in model.requests[1].tool_results()]
    assert [e["type"] for e in errors] == [
        "UnknownTool",
        "MalformedArguments",
        "ValidationError",
        "RuntimeError",
    ]
    assert "boom" in errors[3]["message"]


async def test_a_raw_newline_inside_an_argument_string_is_read_as_itself() -> None:
    """llama.cpp's JSON grammar lets a small model write a newline inside a string;
    strict JSON refuses it and the model was told its arguments were not JSON."""
    model = ScriptedModel([tool_call("word_count", '{"text": "one\ntwo\tthree"}'), text("3")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("n", base_url=server.base_url, tools=["word_count"])
        result = await run_agent(agent, actions=[word_count])
    assert result.outputs == {"agent": "3"}
    (reply,) = model.requests[1].tool_results()
    assert json.loads(reply["content"]) == 3


async def test_tool_names_are_sanitised_and_mapped_back() -> None:
    @tool(name="research.web/v2")
    def web(query: str) -> str:
        return f"results for {query}"

    model = ScriptedModel([tool_call("research_web_v2", {"query": "weft"}), text("done")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("s", base_url=server.base_url, tools=["research.web/v2"])
        result = await run_agent(agent, actions=[web])
    assert result.ok
    assert model.requests[0].tool_names() == ["research_web_v2"]
    assert model.requests[1].tool_results()[0]["content"] == "results for weft"


async def test_a_tool_missing_from_the_context_fails_the_call_clearly() -> None:
    model = ScriptedModel([])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("t", base_url=server.base_url, tools=["nowhere"])
        result = await run_agent(agent)
    error_ = result.nodes["agent"].error
    assert error_ is not None and error_.type == "ToolNotAvailable"
    assert "nowhere" in error_.message
    assert model.requests == []


async def test_a_model_that_never_stops_calling_tools_hits_max_turns() -> None:
    model = ScriptedModel([tool_call("word_count", {"text": "a"})] * 2)
    async with OpenAIServer(model) as server:
        agent = LLMAgent("loop", base_url=server.base_url, tools=["word_count"], max_turns=2)
        result = await run_agent(agent, actions=[word_count])
    error_ = result.nodes["agent"].error
    assert error_ is not None and error_.type == "MaxTurnsExceeded"
    assert result.usage.llm_calls == 2
    model.assert_complete()


class Verdict(BaseModel):
    """A yes/no verdict."""

    approved: bool
    reasons: list[str]


async def test_structured_output_is_validated_and_dumped() -> None:
    model = ScriptedModel([json_output({"approved": True, "reasons": ["clear"]})])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("judge", base_url=server.base_url, output_type=Verdict)
        result = await run_agent(agent)
    assert result.outputs == {"agent": {"approved": True, "reasons": ["clear"]}}
    response_format = model.requests[0].response_format
    assert response_format is not None and response_format["type"] == "json_schema"
    schema = response_format["json_schema"]
    assert schema["strict"] is True
    assert schema["schema"]["additionalProperties"] is False
    assert agent.spec.output_schema["title"] == "Verdict"


async def test_invalid_structured_output_is_repaired_once() -> None:
    model = ScriptedModel(
        [malformed_json('{"approved": tr'), json_output({"approved": False, "reasons": []})]
    )
    async with OpenAIServer(model) as server:
        agent = LLMAgent("judge", base_url=server.base_url, output_type=Verdict)
        result = await run_agent(agent)
    assert result.outputs == {"agent": {"approved": False, "reasons": []}}
    repair = model.requests[1].last_user_text
    assert "not valid JSON" in repair
    assert model.requests[1].messages[-2] == {"role": "assistant", "content": '{"approved": tr'}
    assert result.usage.llm_calls == 2


async def test_structured_output_still_invalid_after_the_repair_fails_the_call() -> None:
    model = ScriptedModel([json_output({"approved": "maybe"}), json_output({"reasons": []})])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("judge", base_url=server.base_url, output_type=Verdict)
        result = await run_agent(agent)
    outcome = result.nodes["agent"]
    assert outcome.state is NodeState.FAILED
    assert outcome.error is not None and outcome.error.type == "InvalidOutput"
    assert "approved" in outcome.error.message
    assert outcome.usage.llm_calls == 2
    model.assert_complete()


async def test_a_rate_limit_is_retried_and_the_retry_is_visible(no_wait: RetryPolicy) -> None:
    model = ScriptedModel([rate_limited(), text("fine", usage=(7, 2))])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("r", base_url=server.base_url, retry=no_wait)
        wf = Workflow("retry")
        wf.node("agent", agent, with_={"task": "go"})
        progress: list[Any] = []
        result = await run_workflow(wf, listeners=[progress.append])
    assert result.outputs == {"agent": "fine"}
    assert len(model.requests) == 2
    retries = [e for e in progress if e.kind == "progress"]
    assert len(retries) == 1
    assert retries[0].data["status"] == 429 and retries[0].data["attempt"] == 1
    # the 429 was not billed: one answered request, its tokens only
    assert (result.usage.llm_calls, result.usage.prompt_tokens) == (1, 7)


async def test_transient_errors_are_retried_up_to_the_limit(no_wait: RetryPolicy) -> None:
    model = ScriptedModel([server_error(503), rate_limited(), server_error(500)])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("r", base_url=server.base_url, retry=no_wait)
        result = await run_agent(agent)
    error_ = result.nodes["agent"].error
    assert error_ is not None
    assert error_.type == "InternalServerError"
    assert error_.retryable is True
    assert "after 3 attempts" in error_.message
    model.assert_complete()


async def test_a_retry_after_header_sets_the_delay() -> None:
    model = ScriptedModel([rate_limited(retry_after=0.01), text("ok")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "r", base_url=server.base_url, retry=RetryPolicy(max_attempts=2, initial_delay=30)
        )
        result = await asyncio.wait_for(run_agent(agent), timeout=5)
    assert result.ok


async def test_a_model_timeout_is_not_retried_when_the_policy_says_so() -> None:
    release = asyncio.Event()

    async def hold(request: ModelRequest) -> str:
        await release.wait()
        return "too late"

    model = FunctionModel(hold)
    no_timeout_retries = RetryPolicy(max_attempts=3, initial_delay=0, retry_on_timeout=False)
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "slow",
            settings=ModelSettings(base_url=server.base_url, timeout=0.2),
            retry=no_timeout_retries,
        )
        result = await run_agent(agent)
        release.set()
    error_ = result.nodes["agent"].error
    assert error_ is not None
    assert (error_.type, error_.retryable) == ("APITimeoutError", False)
    assert len(model.requests) == 1


async def test_a_response_that_is_not_a_completion_is_retried(no_wait: RetryPolicy) -> None:
    model = ScriptedModel(
        [
            raw('{"choices": ['),
            raw("<html>proxy error</html>", content_type="text/html"),
            text("ok"),
        ]
    )
    async with OpenAIServer(model) as server:
        agent = LLMAgent("r", base_url=server.base_url, retry=no_wait)
        result = await run_agent(agent)
    assert result.outputs == {"agent": "ok"}
    model.assert_complete()


async def test_client_errors_are_not_retried(no_wait: RetryPolicy) -> None:
    model = ScriptedModel([error(400, "bad request: unknown parameter")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("r", base_url=server.base_url, retry=no_wait)
        result = await run_agent(agent)
    error_ = result.nodes["agent"].error
    assert error_ is not None
    assert error_.type == "BadRequestError" and error_.retryable is False
    assert "unknown parameter" in error_.message
    model.assert_complete()


async def test_a_request_beyond_loopback_is_blocked_with_a_clear_error() -> None:
    agent = LLMAgent("real", api_key="sk-test-not-a-real-key", retry=RetryPolicy(max_attempts=3))
    result = await run_agent(agent)
    outcome = result.nodes["agent"]
    assert outcome.state is NodeState.FAILED
    assert outcome.error is not None
    assert outcome.error.type == "ModelRequestBlocked"
    assert "api.openai.com" in outcome.error.message
    assert "blocked" in outcome.error.message


async def test_without_key_or_base_url_the_agent_says_what_to_configure() -> None:
    result = await run_agent(LLMAgent("unconfigured"))
    error_ = result.nodes["agent"].error
    assert error_ is not None and error_.type == "ModelNotConfigured"
    assert "OPENAI_API_KEY" in error_.message and "OPENAI_BASE_URL" in error_.message


async def test_a_missing_task_is_a_validation_error() -> None:
    wf = Workflow("bad")
    wf.node("agent", LLMAgent("a", base_url="http://127.0.0.1:9/v1"), with_={"task": ""})
    result = await run_workflow(wf)
    error_ = result.nodes["agent"].error
    assert error_ is not None and error_.type == "ValidationError" and error_.field == "task"


async def test_an_llm_span_is_recorded_through_the_context_hook() -> None:
    from weft.protocols import ActionCall

    class SpanContext:
        """An ActionContext that also offers the optional record_span hook."""

        def __init__(self) -> None:
            self.spans: list[dict[str, Any]] = []
            self._call = ActionCall(action="a")

        @property
        def call(self) -> ActionCall:
            return self._call

        async def invoke(self, action: str, arguments: dict[str, Any]) -> Any:
            raise AssertionError("no tools here")

        def actions(self) -> list[Any]:
            return []

        def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
            return None

        def record_span(self, span: dict[str, Any]) -> None:
            self.spans.append(span)

    model = ScriptedModel([rate_limited(), text("hi", usage=(3, 1))])
    ctx = SpanContext()
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "a",
            model="gpt-4o-mini",
            base_url=server.base_url,
            retry=RetryPolicy(max_attempts=2, initial_delay=0),
        )
        result = await agent.invoke(ActionCall(action="a", arguments={"task": "t"}), ctx)
    assert result.state is ActionState.OK
    [span] = ctx.spans
    assert span["kind"] == "llm" and span["status"] == "ok"
    assert span["attributes"]["llm.attempts"] == 2
    assert span["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert span["attributes"]["usage"].prompt_tokens == 3
    assert span["end"] >= span["start"]
