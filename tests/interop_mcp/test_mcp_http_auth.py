"""``weft mcp serve --http ... --token-env VAR``: requests without the bearer token are
refused, and weft's MCP client sends it (``from_mcp(url, token=...)``, YAML ``token_env``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import httpx2
import pytest
import pytest_asyncio
from click.testing import CliRunner
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from weft import DefinitionError, loads_workflow, run_workflow
from weft.agents._mcp_connection import McpConnection, McpTarget
from weft.agents.mcp_action import (
    McpServerError,
    McpToolAction,
    McpUnauthorized,
    from_mcp,
    from_mcp_async,
)
from weft.cli._app import cli
from weft.protocols import ActionCall, ActionState
from weft.runtime.engine.compiler import compile_workflow
from weft.testing.processes import weft_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOKEN = "mcp-t0ken_0123456789"
VAR = "WEFT_TEST_MCP_TOKEN"
REFUSED = "refused: the agent wants a bearer token (token_env / token=)"


@pytest_asyncio.fixture
async def url(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """``weft mcp serve weft_actions:tools --http 127.0.0.1:0 --token-env VAR``; its URL."""
    monkeypatch.setenv(VAR, TOKEN)
    args = ("mcp", "serve", "weft_actions:tools", "--path", str(HERE))
    async with weft_process(
        *args, "--http", "127.0.0.1:0", "--token-env", VAR, ready=r"at (http://\S+/mcp)", cwd=ROOT
    ) as served:
        assert "bearer token required" in served.ready.string
        yield served.ready.group(1)


async def test_a_request_without_the_token_is_401_with_a_json_error(url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["message"].startswith("Unauthorized")


async def test_the_sdk_client_with_the_token_lists_and_calls_tools(url: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        shouted = await client.call_tool("shout", {"text": "hi"})
    assert "shout" in tools
    assert shouted.content[0].text == "HI"  # type: ignore[union-attr]


async def test_from_mcp_without_a_token_is_refused_clearly(url: str) -> None:
    with pytest.raises(McpUnauthorized) as caught:
        await from_mcp_async(url)
    assert str(caught.value) == f"MCP server {url} {REFUSED}"


async def test_from_mcp_with_the_wrong_token_is_refused_without_showing_it(url: str) -> None:
    with pytest.raises(McpUnauthorized, match="refused the bearer token") as caught:
        await from_mcp_async(url, token="wrong-token-42")
    assert "wrong-token-42" not in str(caught.value) and TOKEN not in str(caught.value)


async def test_from_mcp_with_the_token_calls_a_tool(url: str) -> None:
    tools = from_mcp(url, token=TOKEN)
    try:
        result = await tools["shout"].invoke(ActionCall(action="shout", arguments={"text": "a"}))
    finally:
        await tools.aclose()
    assert result.ok, result.error
    assert result.output == {"result": "A"}


async def test_a_call_refused_by_the_server_is_an_unretryable_error_result(url: str) -> None:
    tools = await from_mcp_async(url, token=TOKEN)
    listed = (await tools.connection.catalog()).tools
    await tools.aclose()
    wrong = McpConnection(McpTarget(url=url, token="wrong-token-42"))
    shout = McpToolAction(wrong, next(t for t in listed if t.name == "shout"))
    try:
        result = await shout.invoke(ActionCall(action="shout", arguments={"text": "a"}))
    finally:
        await wrong.aclose()
    assert result.state is ActionState.ERROR and result.error is not None
    assert (result.error.type, result.error.retryable) == ("Unauthorized", False)
    assert result.error.message == (
        f"MCP server {url} refused the bearer token it was sent: check token_env / token="
    )


def test_a_token_for_a_stdio_command_is_refused() -> None:
    with pytest.raises(McpServerError, match="a stdio command gets its secrets"):
        from_mcp("python -m weft mcp serve x:y", token=TOKEN)


def _workflow(tmp_path: Path, server: str, extra: str = f"token_env: {VAR}") -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(
        f"""name: mcp-token
actions:
  remote:
    mcp: "{server}"
    {extra}
nodes:
  say:
    action: remote.shout
    with: {{text: "quiet"}}
"""
    )
    return path


async def test_a_yaml_token_env_reaches_a_guarded_server(url: str, tmp_path: Path) -> None:
    result = await run_workflow(str(_workflow(tmp_path, url)), record=False)
    assert result.ok, result.error
    assert result.outputs["say"] == {"result": "QUIET"}


def test_a_yaml_entry_without_token_env_is_a_located_refusal(url: str, tmp_path: Path) -> None:
    path = _workflow(tmp_path, url, extra="")
    with pytest.raises(DefinitionError, match=REFUSED.replace("(", r"\(").replace(")", r"\)")) as c:
        compile_workflow(path)
    assert f"{path}:4" in str(c.value)


def test_an_unset_token_env_is_a_located_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VAR, raising=False)
    path = _workflow(tmp_path, "http://127.0.0.1:9/mcp")
    with pytest.raises(DefinitionError, match=f"{VAR} is not set") as caught:
        compile_workflow(path)
    assert f"{path}:5" in str(caught.value)


def test_token_env_on_a_stdio_command_is_a_located_error() -> None:
    entry = '{mcp: "python server.py", token_env: T}'
    text = f"name: bad\nactions:\n  x: {entry}\nnodes:\n  n: {{action: x.y}}\n"
    with pytest.raises(DefinitionError, match="a stdio command gets its secrets") as caught:
        loads_workflow(text, file="bad.yaml")
    assert "bad.yaml:3" in str(caught.value)


def test_serve_token_env_without_http_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, TOKEN)
    result = CliRunner().invoke(cli, ["mcp", "serve", "x:y", "--token-env", VAR])
    assert result.exit_code == 2
    assert "--token-env guards an HTTP server: give --http HOST:PORT too" in result.output


def test_serve_token_env_unset_is_a_usage_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    args = ["mcp", "serve", "x:y", "--http", "127.0.0.1:0", "--token-env", VAR]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert f"--token-env {VAR}: the environment variable {VAR} is not set" in result.output
