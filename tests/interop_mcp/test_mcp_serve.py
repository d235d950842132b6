"""``weft mcp serve``: weft actions answered to the MCP SDK's own client, on stdio and HTTP."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from click.testing import CliRunner
from mcp import Client, MCPError, StdioServerParameters

from weft.agents.mcp_action import from_mcp
from weft.cli._app import cli
from weft.protocols import ActionCall, ActionState
from weft.runtime.interop.http_listen import listening_socket
from weft.testing.processes import weft_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVE = [sys.executable, "-m", "weft", "mcp", "serve", "weft_actions:tools", "--path", str(HERE)]


def stdio_server() -> StdioServerParameters:
    return StdioServerParameters(command=SERVE[0], args=SERVE[1:], cwd=str(ROOT))


@pytest_asyncio.fixture
async def http_server() -> AsyncIterator[str]:
    """``weft mcp serve --http 127.0.0.1:0``; its URL, read from the line it prints."""
    args = (*SERVE[3:], "--http", "127.0.0.1:0")
    async with weft_process(*args, ready=r"at (http://\S+/mcp)", cwd=ROOT) as served:
        yield served.ready.group(1)


@pytest.fixture(params=["stdio", "http"])
def server(request: pytest.FixtureRequest) -> Any:
    """What the SDK's ``Client`` is given: the command's parameters, or the URL.

    The client itself is entered in each test: anyio's task group inside it
    must be left by the task that entered it, and a fixture's teardown runs
    in another task.
    """
    if request.param == "stdio":
        return stdio_server()
    return request.getfixturevalue("http_server")


async def test_the_sdk_client_lists_weft_actions_as_tools(server: Any) -> None:
    async with Client(server) as client:
        assert client.protocol_version == "2026-07-28"
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"shout", "stats", "halves", "team_review", "refuse"}
        assert tools["shout"].description == "Say the text louder."
        assert tools["shout"].input_schema["required"] == ["text"]
        assert tools["stats"].output_schema is not None
        assert set(tools["stats"].output_schema["properties"]) == {"words", "chars"}


async def test_outputs_come_back_as_text_and_structured_content(server: Any) -> None:
    async with Client(server) as client:
        shouted = await client.call_tool("shout", {"text": "hi"})
        assert not shouted.is_error and shouted.content[0].text == "HI"  # type: ignore[union-attr]
        counted = await client.call_tool("stats", {"text": "a bc"})
        assert counted.structured_content == {"words": 2, "chars": 4}
        halved = await client.call_tool("halves", {"n": 5})
        assert halved.structured_content == {"result": [2, 3]}
        reviewed = await client.call_tool("team_review", {"draft": "d"})
        assert reviewed.content[0].text == "looks good: d"  # type: ignore[union-attr]


async def test_a_failed_action_is_an_error_result_with_its_message(server: Any) -> None:
    async with Client(server) as client:
        refused = await client.call_tool("refuse", {"reason": "too late"})
        assert refused.is_error
        assert refused.content[0].text == "Refused: refuse: refused: too late"  # type: ignore[union-attr]
        invalid = await client.call_tool("shout", {"txt": "hi"})
        assert invalid.is_error and "text" in invalid.content[0].text  # type: ignore[union-attr]


async def test_an_unknown_tool_is_a_protocol_error(server: Any) -> None:
    async with Client(server) as client:
        with pytest.raises(MCPError, match="Unknown tool: nope"):
            await client.call_tool("nope", {})


async def test_weft_reads_a_weft_servers_error_back_as_it_was(http_server: str) -> None:
    refuse = from_mcp(http_server)["refuse"]
    result = await refuse.invoke(ActionCall(action="refuse", arguments={"reason": "x"}))
    assert result.state is ActionState.ERROR and result.error is not None
    assert (result.error.type, result.error.retryable) == ("Refused", True)
    assert result.error.message == "refuse: refused: x"


async def test_each_tools_spec_and_card_is_a_json_resource(server: Any) -> None:
    async with Client(server) as client:
        listed = (await client.list_resources()).resources
        assert [str(r.uri) for r in listed] == [
            "weft://cards/shout", "weft://cards/stats", "weft://cards/halves",
            "weft://cards/team_review", "weft://cards/refuse",
        ]  # fmt: skip
        assert {r.mime_type for r in listed} == {"application/json"}
        [template] = (await client.list_resource_templates()).resource_templates
        assert template.uri_template == "weft://cards/{tool}"
        read = await client.read_resource("weft://cards/team_review")
        spec = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert spec["name"] == "team/review" and spec["input_schema"]["required"] == ["draft"]
        assert spec["card"]["agent_id"] == "team/review"
        assert spec["card"]["description"].startswith("Review a draft")


async def test_a_card_of_no_tool_is_a_protocol_error(server: Any) -> None:
    async with Client(server) as client:
        with pytest.raises(MCPError, match="Unknown resource: weft://cards/nope") as caught:
            await client.read_resource("weft://cards/nope")
        assert caught.value.code == -32602


async def test_weft_reads_a_weft_servers_cards_as_resources(http_server: str) -> None:
    reader = from_mcp(http_server, resources=True)["read_resource"]
    assert "- weft://cards/shout (application/json)" in reader.spec.description
    result = await reader.invoke(
        ActionCall(action="read_resource", arguments={"uri": "weft://cards/stats"})
    )
    assert result.ok and json.loads(result.output)["output_schema"]["required"] == [
        "words",
        "chars",
    ]


async def test_no_prompts_are_offered(server: Any) -> None:
    async with Client(server) as client:
        assert client.server_capabilities.prompts is None


def test_serving_nothing_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["mcp", "serve"])
    assert result.exit_code == 2
    assert "nothing to serve: give TARGETS (module:object), or --broker URL" in result.output


def test_a_taken_port_is_a_weft_error_naming_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            ["mcp", "serve", "weft_actions:tools", "--path", str(HERE),
             "--http", f"127.0.0.1:{port}"],
        )  # fmt: skip
    assert result.exit_code == 2
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.output


def test_the_http_servers_connections_have_nodelay() -> None:
    """Without TCP_NODELAY each HTTP call waits ~45 ms for a delayed ACK (bench/hops.py)."""
    listener = listening_socket("127.0.0.1", 0)
    with listener, socket.create_connection(listener.getsockname()) as client:
        accepted, _ = listener.accept()
        with accepted:
            assert listener.proto == socket.IPPROTO_TCP  # asyncio's own nodelay needs it
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert client.fileno() == -1
