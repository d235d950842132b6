"""A2A over HTTP both ways: weft actions served with a2a-sdk's server, A2A agents called
as weft actions, and the SDK's own client talking to weft."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.types import Message, Part, Role, SendMessageRequest, TaskState
from google.protobuf.json_format import MessageToDict

from weft import DefinitionError, Workflow, loads_workflow, run_workflow
from weft.agents import LLMAgent
from weft.agents.a2a_action import A2aAction, from_a2a
from weft.protocols import ActionCall, ActionState
from weft.runtime.engine.execution_context import UNUSED_CONTEXT
from weft.runtime.interop import validate_agent_card
from weft.runtime.interop.a2a_server import A2aHttpServer
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call

from .a2a_tools import call_once, echo, refuse, word_stats


@pytest.fixture
async def server() -> AsyncIterator[A2aHttpServer]:
    async with A2aHttpServer([echo, word_stats, refuse], name="weft-tools") as running:
        yield running


async def test_the_served_card_validates_and_lists_every_action(server: A2aHttpServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(server.url + ".well-known/agent-card.json")
    card = validate_agent_card(response.json())
    assert card["name"] == "weft-tools"
    assert [s["id"] for s in card["skills"]] == ["echo", "word_stats", "refuse"]
    assert card["supportedInterfaces"][0]["url"] == server.url


async def test_the_sdk_client_calls_a_weft_action(server: A2aHttpServer) -> None:
    async with httpx.AsyncClient() as http:
        factory = ClientFactory(ClientConfig(httpx_client=http, streaming=False))
        client = await factory.create_from_url(server.url)
        message = Message(
            message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text="one two three")]
        )
        message.metadata.update({"skill": "word_stats"})
        events = [e async for e in client.send_message(SendMessageRequest(message=message))]
    (event,) = events
    assert event.task.status.state == TaskState.TASK_STATE_COMPLETED
    (artifact,) = MessageToDict(event.task)["artifacts"]
    assert artifact["parts"] == [
        {"data": {"words": 3, "chars": 13}, "mediaType": "application/json"}
    ]


async def test_a_weft_action_calls_an_a2a_agent_and_gets_its_output(
    server: A2aHttpServer,
) -> None:
    action = A2aAction(server.url, name="remote_echo", skill="echo")
    result = await call_once(action, {"text": "hello"})
    assert result.ok, result.error
    assert result.output == {"text": "hello"}


async def test_from_a2a_names_the_action_and_reads_the_skill_card(server: A2aHttpServer) -> None:
    action = await from_a2a(server.url, skill="echo")
    await action.aclose()
    assert action.spec.name == "weft-tools"
    assert action.spec.description == "Return the text it was given."
    assert action.spec.card is not None and action.spec.card.skills == ["repeat text"]


async def test_a_failed_weft_action_comes_back_with_its_own_error(server: A2aHttpServer) -> None:
    action = A2aAction(server.url, name="r", skill="refuse")
    result = await call_once(action, {"text": "x"})
    assert result.state is ActionState.ERROR
    assert result.error is not None
    assert (result.error.type, result.error.retryable) == ("Refused", True)
    assert result.error.message == "refuse: will not process 'x'"


async def test_a_request_naming_no_skill_of_a_several_skill_agent_is_rejected(
    server: A2aHttpServer,
) -> None:
    action = A2aAction(server.url, name="which")
    result = await call_once(action, {"text": "x"})
    assert result.state is ActionState.ERROR and result.error is not None
    assert "serves several skills (echo, word_stats, refuse)" in result.error.message


async def test_an_unreachable_agent_is_an_error_result_not_an_exception() -> None:
    async with A2aHttpServer([echo]) as gone:
        url = gone.url
    action = A2aAction(url, name="gone")
    result = await action.invoke(ActionCall(action="gone", arguments={"text": "x"}), UNUSED_CONTEXT)
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.message.startswith("gone: ")


async def test_an_a2a_agent_is_a_node_of_a_python_workflow(server: A2aHttpServer) -> None:
    wf = Workflow("with-a2a")
    wf.input("text", type="string")
    wf.node(
        "stats",
        A2aAction(server.url, name="stats", skill="word_stats"),
        with_={"document": "${inputs.text}"},
    )
    result = await run_workflow(wf, {"text": "a b c d"}, record=False)
    assert result.ok, result.error
    assert result.outputs["stats"] == {"words": 4, "chars": 7}


async def test_a_yaml_workflow_takes_an_a2a_agent_as_an_action_source(
    server: A2aHttpServer, tmp_path: Path
) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        f"""
name: a2a-yaml
inputs:
  text: {{type: string}}
actions:
  shout: {{a2a: "{server.url}", skill: echo}}
nodes:
  say:
    action: shout
    with: {{text: "${{inputs.text}}"}}
"""
    )
    result = await run_workflow(str(path), {"text": "hi there"}, record=False)
    assert result.ok, result.error
    assert result.outputs["say"] == {"text": "hi there"}


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ('{a2a: "ftp://host/"}', r"'a2a' must be an http\(s\):// URL or mqtt\(s\)://"),
        ('{python: "m:f", skill: echo}', "'skill' names a skill of an A2A agent"),
        ('{a2a: "http://h/", python: "m:f"}', "exactly one of"),
    ],
)
def test_a_bad_a2a_action_source_is_a_located_definition_error(source: str, complaint: str) -> None:
    text = f"name: bad\nactions:\n  x: {source}\nnodes:\n  n: {{action: x}}\n"
    with pytest.raises(DefinitionError, match=complaint) as caught:
        loads_workflow(text, file="bad.yaml")
    assert "bad.yaml:3" in str(caught.value)


async def test_an_llm_agent_calls_an_a2a_agent_as_a_tool(server: A2aHttpServer) -> None:
    remote = A2aAction(server.url, name="stats", skill="word_stats")
    model = ScriptedModel([tool_call("stats", {"text": "five words in this text"}), text("Done.")])
    try:
        async with OpenAIServer(model) as llm:
            agent = LLMAgent(
                "host",
                instructions="Count words with the stats tool.",
                model="gpt-test",
                base_url=llm.base_url,
                tools=[remote],
            )
            wf = Workflow("agent-with-a2a")
            wf.node("ask", agent, with_={"task": "How many words?"})
            result = await run_workflow(wf, record=False)
    finally:
        await remote.aclose()
    assert result.ok, result.error
    assert '"words": 5' in str(model.requests[-1].tool_results())
    model.assert_complete()
