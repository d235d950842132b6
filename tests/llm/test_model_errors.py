"""What a user reads when a model endpoint refuses a request: the status once, the server's words.

The ``openai`` client words an HTTP error ``Error code: 400 - ...``; weft's
error says ``HTTP 400 from <model> at <endpoint>: <what the server said>``,
taking the ``message`` of a JSON error body, or a plain-text body as it is.
Deciding by the server's words (a refused optional field) still reads the
whole body. The real ``openai`` client against the local scripted server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from weft import Workflow, tool
from weft.agents import ChatModel, LLMAgent, ModelCallError, ModelSettings
from weft.agents.endpoint_profiles import ENDPOINT_PROFILES
from weft.protocols import NodeState, RetryPolicy
from weft.runtime import run_workflow
from weft.testing import (
    FunctionModel,
    ModelRequest,
    OpenAIServer,
    ScriptedModel,
    Step,
    error,
    text,
    tool_call,
)
from weft.testing.steps import raw

CONTEXT = "This model's maximum context length is 8192 tokens. Please reduce the length."


@pytest.fixture(autouse=True)
def fresh_profiles() -> Iterator[None]:
    ENDPOINT_PROFILES.forget()
    yield
    ENDPOINT_PROFILES.forget()


async def failing(step: Step) -> tuple[ModelCallError, str, list[dict[str, Any]]]:
    """The error of one request answered by ``step``, the endpoint, and the spans."""
    spans: list[dict[str, Any]] = []

    class Sink:
        def record_span(self, span: dict[str, Any]) -> None:
            spans.append(span)

    async with OpenAIServer(ScriptedModel([step])) as server:
        base_url = server.base_url
        chat = ChatModel(ModelSettings(base_url=base_url))
        with pytest.raises(ModelCallError) as caught:
            async with chat.session(Sink()) as session:
                await session.complete([{"role": "user", "content": "hi"}])
    return caught.value, base_url, spans


async def test_a_json_error_body_shows_the_status_once_and_the_servers_message() -> None:
    exc, base_url, spans = await failing(error(400, CONTEXT, code="context_length_exceeded"))
    assert str(exc) == f"HTTP 400 from gpt-4o-mini at {base_url}: {CONTEXT}"
    assert (exc.status, exc.error_type, exc.retryable) == (400, "BadRequestError", False)
    # the span's error carries the same words, without the endpoint (the span names it)
    assert spans[-1]["attributes"]["error"].message == f"HTTP 400: {CONTEXT}"


async def test_a_plain_text_error_body_is_the_message() -> None:
    body = "prompt is too long for this server\n"
    exc, base_url, _ = await failing(raw(body, status=400, content_type="text/plain"))
    assert str(exc) == f"HTTP 400 from gpt-4o-mini at {base_url}: {body.strip()}"


async def test_a_fastapi_detail_body_and_an_empty_body_are_read() -> None:
    detail = json.dumps({"detail": "Not authenticated"})
    exc, base_url, _ = await failing(raw(detail, status=403))
    assert str(exc) == f"HTTP 403 from gpt-4o-mini at {base_url}: Not authenticated"
    exc, base_url, _ = await failing(raw("", status=404, content_type="text/plain"))
    assert str(exc) == f"HTTP 404 from gpt-4o-mini at {base_url}: (the server sent no message)"


async def test_an_agent_run_fails_with_the_servers_message() -> None:
    model = FunctionModel(lambda r: error(400, CONTEXT))
    async with OpenAIServer(model) as server:
        base_url = server.base_url
        wf = Workflow("one")
        wf.node("agent", LLMAgent("writer", base_url=base_url), with_={"task": "write"})
        result = await run_workflow(wf)
    outcome = result.nodes["agent"]
    assert outcome.state is NodeState.FAILED and outcome.error is not None
    message = outcome.error.message
    assert f"HTTP 400 from gpt-4o-mini at {base_url}: {CONTEXT}" in message
    assert "Error code" not in message and message.count("400") == 1


async def test_retry_notes_say_the_status_once() -> None:
    model = ScriptedModel([error(503, "overloaded, try later", type="server_error"), text("ok")])
    async with OpenAIServer(model) as server:
        base_url = server.base_url
        chat = ChatModel(
            ModelSettings(base_url=base_url),
            retry=RetryPolicy(max_attempts=2, initial_delay=0, max_delay=0),
        )
        async with chat.session() as session:
            completion = await session.complete([{"role": "user", "content": "hi"}])
    assert completion.message.content == "ok"
    note = session.progress[0].message
    assert note.startswith(
        f"HTTP 503 from gpt-4o-mini at {base_url}: overloaded, try later; retry 1 in"
    )


@tool
def double(n: int) -> int:
    """Double a number."""
    return n * 2


@pytest.mark.parametrize(
    "refusal",
    [
        # the field named in a plain-text body
        raw("unsupported field: parallel_tool_calls", status=400, content_type="text/plain"),
        # named only in the JSON body's "param", not in its message
        raw(
            json.dumps(
                {
                    "error": {
                        "message": "Unrecognized request argument supplied",
                        "type": "invalid_request_error",
                        "param": "parallel_tool_calls",
                    }
                }
            ),
            status=400,
        ),
    ],
    ids=["plain-text", "json-param"],
)
async def test_a_refused_field_is_found_in_any_body(refusal: Step) -> None:
    def endpoint(request: ModelRequest) -> Step:
        if "parallel_tool_calls" in request.body:
            return refusal
        if not request.tool_results():
            return tool_call("double", {"n": 4})
        return text(f"got {request.tool_results()[0]['content']}")

    model = FunctionModel(endpoint)
    async with OpenAIServer(model) as server:
        wf = Workflow("one")
        agent = LLMAgent("calc", base_url=server.base_url, tools=[double], parallel_tool_calls=True)
        wf.node("agent", agent, with_={"task": "double 4"})
        result = await run_workflow(wf)
        base_url = server.base_url
    assert result.nodes["agent"].output == "got 8"
    assert ["parallel_tool_calls" in r.body for r in model.requests] == [True, False, False]
    assert ENDPOINT_PROFILES.get(base_url, "gpt-4o-mini").parallel_tool_calls is False
