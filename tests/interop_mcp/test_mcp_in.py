"""MCP in: the tools of a real MCP server process are weft actions (stdio and streamable HTTP)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import weft
from weft import LLMAgent, Workflow, run_workflow
from weft.agents.mcp_action import McpServerError, from_mcp
from weft.protocols import ActionCall, ActionState, DefinitionError
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call


def workflow_file(tmp_path: Path, server: str, nodes: str) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: mcp-flow
            actions:
              fx: {{mcp: "{server}"}}
            nodes:
            """
        )
        + textwrap.indent(textwrap.dedent(nodes), "  ")
    )
    return path


PIPELINE = """\
    greet:
      action: fx.echo
      with: {text: "${inputs.name}"}
    sum:
      action: fx.add
      with: {a: 2, b: 40}
    both:
      action: fx.lines
      after: [greet, sum]
      with: {text: "${greet.result}\\n${sum.total}"}
"""


def test_each_tool_is_an_action_with_the_tools_schemas_and_a_card(stdio_command: str) -> None:
    tools = from_mcp(stdio_command, prefix="fx")
    assert tools.names() == [
        "fx.echo", "fx.add", "fx.explode", "fx.lines", "fx.words", "fx.count", "fx.pid"
    ]  # fmt: skip
    add = tools["add"].spec
    assert add.description == "Add two integers."
    assert add.input_schema["required"] == ["a", "b"]
    assert add.input_schema["properties"]["a"]["type"] == "integer"
    assert set(add.output_schema["properties"]) == {"total", "terms"}
    assert add.card is not None and add.card.description == "Add two integers."
    assert "mcp" in add.card.tags


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_yaml_workflow_calls_the_servers_tools(
    transport: str, stdio_command: str, http_url: str, tmp_path: Path
) -> None:
    server = stdio_command if transport == "stdio" else http_url
    path = workflow_file(tmp_path, server.replace('"', '\\"'), PIPELINE)
    result = await run_workflow(path, {"name": "ada"}, record=False)
    assert result.ok, result.error
    assert result.outputs == {"both": {"result": ["ada", "42"]}}


async def test_a_tool_that_raises_fails_its_node_with_the_tools_message(
    stdio_command: str, tmp_path: Path
) -> None:
    nodes = """\
        boom:
          action: fx.explode
          with: {message: "disk on fire"}
    """
    path = workflow_file(tmp_path, stdio_command, nodes)
    result = await run_workflow(path, record=False)
    assert not result.ok
    error = result.nodes["boom"].error
    assert error is not None and error.type == "McpToolError"
    assert "disk on fire" in error.message and "explode" in error.message


def test_an_unknown_tool_is_a_definition_error_naming_the_line(
    stdio_command: str, tmp_path: Path
) -> None:
    nodes = """\
        greet:
          action: fx.echoo
          with: {text: hi}
    """
    path = workflow_file(tmp_path, stdio_command, nodes)
    with pytest.raises(DefinitionError) as caught:
        weft.compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:6" in message
    assert "unknown action 'fx.echoo'" in message and "fx.echo" in message


def test_the_servers_own_name_is_no_action(stdio_command: str, tmp_path: Path) -> None:
    nodes = """\
        greet:
          action: fx
          with: {text: hi}
    """
    path = workflow_file(tmp_path, stdio_command, nodes)
    with pytest.raises(DefinitionError) as caught:
        weft.compile_workflow(path)
    assert f"{path}:6" in str(caught.value)
    assert "unknown action 'fx'; known actions: fx.add, fx.count, fx.echo" in str(caught.value)


def test_a_server_command_not_found_is_a_definition_error_at_the_mcp_line(
    tmp_path: Path,
) -> None:
    nodes = """\
        greet:
          action: fx.echo
    """
    path = workflow_file(tmp_path, "no-such-mcp-server-xyz --root /data", nodes)
    with pytest.raises(DefinitionError) as caught:
        weft.compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:3" in message
    assert "MCP server command not found: 'no-such-mcp-server-xyz'" in message


def test_a_server_that_exits_at_once_is_an_error_naming_its_command(tmp_path: Path) -> None:
    with pytest.raises(McpServerError, match="could not be started"):
        from_mcp(["python3", "-c", "pass"])


def test_a_url_nobody_serves_is_an_error_naming_the_url() -> None:
    with pytest.raises(McpServerError, match=r"http://127\.0\.0\.1:9/mcp could not be reached"):
        from_mcp("http://127.0.0.1:9/mcp")


def test_asking_for_a_tool_the_server_lacks_lists_the_ones_it_has(stdio_command: str) -> None:
    with pytest.raises(McpServerError, match=r"no tool 'grep' \(it has: add, count, echo"):
        from_mcp(stdio_command, tools=["echo", "grep"])
    with pytest.raises(KeyError, match="has no tool 'grep'"):
        from_mcp(stdio_command)["grep"]


async def test_structured_content_is_preferred_to_text(http_url: str) -> None:
    tools = from_mcp(http_url, tools=["lines"])
    result = await tools["lines"].invoke(ActionCall(action="lines", arguments={"text": "a\nb"}))
    assert result.state is ActionState.OK
    assert result.output == {"result": ["a", "b"]}


async def test_text_content_alone_is_a_string_or_a_list_of_strings(stdio_command: str) -> None:
    words = from_mcp(stdio_command)["words"]
    assert words.spec.output_schema == {}
    several = await words.invoke(ActionCall(action="words", arguments={"text": "a b"}))
    assert several.output == ["a", "b"]
    one = await words.invoke(ActionCall(action="words", arguments={"text": "a"}))
    assert one.output == "a"


async def test_invalid_arguments_are_an_error_result_not_an_exception(stdio_command: str) -> None:
    add = from_mcp(stdio_command)["add"]
    result = await add.invoke(ActionCall(action="add", arguments={"a": "x"}))
    assert result.state is ActionState.ERROR
    assert result.error is not None and "validation error" in result.error.message


async def test_the_connection_is_reused_across_runs_and_reopened_after_close(
    stdio_command: str,
) -> None:
    tools = from_mcp(stdio_command, tools=["pid"])
    wf = Workflow("pids")
    wf.node("pid", tools["pid"])
    first = await run_workflow(wf, record=False)
    second = await run_workflow(wf, record=False)
    assert first.outputs == second.outputs  # one server process served both runs
    await tools.aclose()
    third = await run_workflow(wf, record=False)
    assert third.ok and third.outputs != first.outputs  # a new process after close


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_an_llm_agent_calls_mcp_tools(
    transport: str, stdio_command: str, http_url: str
) -> None:
    tools = from_mcp(stdio_command if transport == "stdio" else http_url, prefix="fx")
    model = ScriptedModel([tool_call("fx_add", {"a": 20, "b": 22}), text("It is 42.")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("calc", base_url=server.base_url, tools=tools)
        wf = Workflow("ask")
        wf.node("agent", agent, with_={"task": "What is 20 + 22?"})
        result = await run_workflow(wf, record=False)
    assert result.ok, result.error
    assert result.outputs == {"agent": "It is 42."}
    offered = {t["function"]["name"]: t["function"] for t in model.requests[0].tools}
    assert offered["fx_add"]["description"] == "Add two integers."
    assert offered["fx_add"]["parameters"]["required"] == ["a", "b"]
    [answer] = model.requests[1].tool_results()
    assert '"total": 42' in answer["content"]
    model.assert_complete()


class ProgressSeen:
    """The part of an ``ActionContext`` a tool's progress reaches."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, float | None]] = []

    def progress(self, message: str, fraction: float | None = None, **data: object) -> None:
        self.reports.append((message, fraction))


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_the_servers_progress_reaches_the_callers_context(
    transport: str, stdio_command: str, http_url: str
) -> None:
    count = from_mcp(stdio_command if transport == "stdio" else http_url)["count"]
    seen = ProgressSeen()
    result = await count.invoke(ActionCall(action="count", arguments={"n": 4}), seen)  # type: ignore[arg-type]
    assert result.output == {"result": 4}
    assert seen.reports == [("step 1", 0.25), ("step 2", 0.5), ("step 3", 0.75), ("step 4", 1.0)]
