"""A2A over HTTP with a bearer token: the server refuses calls without it, the card stays
public and declares the scheme, and weft's client sends the token (Python and YAML)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.types import Message, Part, Role, SendMessageRequest, TaskState
from click.testing import CliRunner

from weft import DefinitionError, loads_workflow, run_workflow
from weft.agents.a2a_action import A2aAction, from_a2a
from weft.cli._app import cli
from weft.protocols import ActionState
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.interop import validate_agent_card
from weft.runtime.interop.a2a_server import A2aHttpServer
from weft.runtime.support.redaction import redactor

from .a2a_tools import call_once, echo

TOKEN = "s3cr3t-a2a-token.0123456789"


@pytest.fixture
async def server() -> AsyncIterator[A2aHttpServer]:
    async with A2aHttpServer([echo], name="guarded", token=TOKEN) as running:
        yield running


async def test_a_request_without_the_token_is_401_with_a_json_error(
    server: A2aHttpServer,
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "x"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Bearer" in response.json()["error"]["message"]


async def test_a_request_with_another_token_is_401(server: A2aHttpServer) -> None:
    headers = {"Authorization": "Bearer not-the-token"}
    async with httpx.AsyncClient(headers=headers) as http:
        response = await http.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "x"})
    assert response.status_code == 401


async def test_the_card_is_public_and_declares_the_bearer_scheme(server: A2aHttpServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(server.url + ".well-known/agent-card.json")
    assert response.status_code == 200
    card = validate_agent_card(response.json())
    assert card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"] == "Bearer"
    assert card["securityRequirements"] == [{"schemes": {"bearer": {}}}]


async def test_a_card_served_without_a_token_declares_no_scheme() -> None:
    async with A2aHttpServer([echo]) as open_server, httpx.AsyncClient() as http:
        card = (await http.get(open_server.url + ".well-known/agent-card.json")).json()
    assert "securitySchemes" not in card and "securityRequirements" not in card


async def test_the_sdk_client_with_the_token_calls_the_agent(server: A2aHttpServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(headers=headers) as http:
        client = await ClientFactory(
            ClientConfig(httpx_client=http, streaming=False)
        ).create_from_url(server.url)
        message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text="hi")])
        events = [e async for e in client.send_message(SendMessageRequest(message=message))]
    assert events[-1].task.status.state == TaskState.TASK_STATE_COMPLETED


async def test_a_call_without_a_token_is_a_clear_unretryable_error(server: A2aHttpServer) -> None:
    result = await call_once(A2aAction(server.url, name="guarded"), {"text": "hi"})
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.type == "Unauthorized" and not result.error.retryable
    assert result.error.message == (
        f"guarded: {server.url} refused: the agent wants a bearer token (token_env / token=)"
    )


async def test_a_call_with_the_wrong_token_is_refused_without_showing_it(
    server: A2aHttpServer,
) -> None:
    action = A2aAction(server.url, name="guarded", token="wrong-token-42")
    result = await call_once(action, {"text": "hi"})
    assert result.error is not None and result.error.type == "Unauthorized"
    assert "refused the bearer token" in result.error.message
    assert "wrong-token-42" not in result.model_dump_json()


async def test_a_call_with_the_token_succeeds(server: A2aHttpServer) -> None:
    action = await from_a2a(server.url, token=TOKEN)
    try:
        result = await call_once(action, {"text": "hello"})
    finally:
        await action.aclose()
    assert result.ok, result.error
    assert result.output == {"text": "hello"}


async def test_from_a2a_refuses_a_token_for_an_mqtt_agent() -> None:
    with pytest.raises(ValueError, match="bearer token is for an http"):
        await from_a2a("mqtt://127.0.0.1:1883/org/unit/agent", token=TOKEN)


def test_a_token_that_cannot_be_a_bearer_token_is_refused_by_the_server() -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        A2aHttpServer([echo], token="has space")


def _workflow(tmp_path: Path, url: str, extra: str = "token_env: WEFT_TEST_A2A_TOKEN") -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(
        f"""name: a2a-token
inputs:
  text: {{type: string}}
actions:
  shout:
    a2a: "{url}"
    {extra}
nodes:
  say:
    action: shout
    with: {{text: "${{inputs.text}}"}}
"""
    )
    return path


async def test_a_yaml_token_env_sends_the_token_and_never_records_it(
    server: A2aHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("WEFT_HOME", str(home))
    monkeypatch.setenv("WEFT_TEST_A2A_TOKEN", TOKEN)
    result = await run_workflow(str(_workflow(tmp_path, server.url)), {"text": "hi"}, record=True)
    assert result.ok, result.error
    assert result.outputs["say"] == {"text": "hi"}
    assert redactor().text(f"Bearer {TOKEN} and {TOKEN}").count(TOKEN) == 0
    written = [p for p in home.rglob("*") if p.is_file()]
    assert written and not any(TOKEN.encode() in p.read_bytes() for p in written)


async def test_a_yaml_entry_without_token_env_is_refused_clearly(
    server: A2aHttpServer, tmp_path: Path
) -> None:
    path = _workflow(tmp_path, server.url, extra="skill: echo")
    result = await run_workflow(str(path), {"text": "hi"}, record=False)
    assert not result.ok and result.error is not None
    assert "refused: the agent wants a bearer token (token_env / token=)" in str(result.error)


def test_an_unset_token_env_is_a_located_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEFT_TEST_A2A_TOKEN", raising=False)
    path = _workflow(tmp_path, "http://127.0.0.1:9/")
    with pytest.raises(DefinitionError, match="WEFT_TEST_A2A_TOKEN is not set") as caught:
        compile_workflow(path)
    assert f"{path}:7" in str(caught.value)


def test_a_token_env_holding_no_token_is_a_located_error_without_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_TEST_A2A_TOKEN", "two words")
    path = _workflow(tmp_path, "http://127.0.0.1:9/")
    with pytest.raises(DefinitionError, match="WEFT_TEST_A2A_TOKEN must hold") as caught:
        compile_workflow(path)
    assert f"{path}:7" in str(caught.value) and "two words" not in str(caught.value)


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        (
            '{a2a: "mqtt://127.0.0.1:1883/org/unit/agent", token_env: T}',
            "an mqtt\\(s\\):// A2A agent is guarded by its broker",
        ),
        ('{python: "m:f", token_env: T}', "'token_env' names the bearer token of an HTTP"),
        ('{a2a: "http://h/", token_env: "sk-pasted.token"}', "not the token itself"),
    ],
)
def test_a_misplaced_token_env_is_a_located_definition_error(source: str, complaint: str) -> None:
    text = f"name: bad\nactions:\n  x: {source}\nnodes:\n  n: {{action: x}}\n"
    with pytest.raises(DefinitionError, match=complaint) as caught:
        loads_workflow(text, file="bad.yaml")
    assert "bad.yaml:3" in str(caught.value) and "sk-pasted" not in str(caught.value)


def test_serve_token_env_unset_is_a_usage_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEFT_TEST_NO_SUCH_TOKEN", raising=False)
    args = ["a2a", "serve", "tests.interop_a2a.a2a_tools:echo", "--http", "127.0.0.1:0"]
    result = CliRunner().invoke(cli, [*args, "--token-env", "WEFT_TEST_NO_SUCH_TOKEN"])
    assert result.exit_code == 2
    assert "WEFT_TEST_NO_SUCH_TOKEN is not set" in result.output


def test_serve_token_env_empty_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEFT_TEST_EMPTY_TOKEN", "")
    args = ["a2a", "serve", "x:y", "--http", "127.0.0.1:0", "--token-env", "WEFT_TEST_EMPTY_TOKEN"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "WEFT_TEST_EMPTY_TOKEN is empty" in result.output


def test_serve_token_env_without_http_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEFT_TEST_A2A_TOKEN", TOKEN)
    args = ["a2a", "serve", "x:y", "--mqtt", "org/unit/a", "--token-env", "WEFT_TEST_A2A_TOKEN"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "--token-env guards an HTTP server" in result.output
