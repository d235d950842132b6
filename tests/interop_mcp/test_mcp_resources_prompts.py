"""MCP in: a real MCP server's resources (one ``read_resource`` action) and prompts as actions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mcp.types import Resource

from weft import run_workflow
from weft.agents.mcp_action import from_mcp
from weft.agents.mcp_resources import reader_spec
from weft.protocols import ActionCall, ActionState


def test_resources_and_prompts_are_left_out_unless_asked_for(stdio_command: str) -> None:
    names = from_mcp(stdio_command).names()
    assert "read_resource" not in names
    assert not any(name.startswith("prompt.") for name in names)


def test_asked_for_they_follow_the_tools_under_the_prefix(stdio_command: str) -> None:
    tools = from_mcp(stdio_command, prefix="fx", resources=True, prompts=True)
    assert tools.names()[-3:] == ["fx.read_resource", "fx.prompt.review", "fx.prompt.greet"]
    assert tools["read_resource"].name == "fx.read_resource"
    assert tools["prompt.review"].name == "fx.prompt.review"


def test_the_reader_describes_the_resources_and_templates(stdio_command: str) -> None:
    reader = from_mcp(stdio_command, resources=True)["read_resource"].spec
    assert reader.description.splitlines() == [
        "Read a resource of the MCP server 'weft-fixture' by its URI.",
        "Resources:",
        "- notes://readme (text/markdown): How to use the notes.",
        "- notes://logo (image/png): The logo.",
        "- notes://{name} (text/plain): The note called NAME. [URI template]",
    ]
    assert reader.input_schema["required"] == ["uri"]
    assert "enum" not in reader.input_schema["properties"]["uri"]  # a template reads any name
    assert reader.card is not None and {"mcp-resource", "read-only"} <= set(reader.card.tags)


def test_a_few_fixed_resources_are_an_enum_of_uris() -> None:
    listed = [Resource(uri=f"file:///{n}", name=n) for n in ("a", "b")]
    spec = reader_spec("read_resource", "'files'", listed, [])
    assert spec.input_schema["properties"]["uri"]["enum"] == ["file:///a", "file:///b"]


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize(
    ("uri", "output"),
    [
        ("notes://readme", "# Notes\nWrite them down."),
        ("notes://groceries", "note groceries"),
        ("notes://logo", [{"uri": "notes://logo", "mimeType": "image/png", "blob": "iVBORw=="}]),
    ],
)
async def test_reading_a_resource_gives_its_text_or_its_contents(
    transport: str, uri: str, output: object, stdio_command: str, http_url: str
) -> None:
    server = stdio_command if transport == "stdio" else http_url
    reader = from_mcp(server, resources=True)["read_resource"]
    result = await reader.invoke(ActionCall(action="read_resource", arguments={"uri": uri}))
    assert result.state is ActionState.OK, result.error
    assert result.output == output


async def test_an_unknown_uri_is_the_servers_error_with_its_code(stdio_command: str) -> None:
    reader = from_mcp(stdio_command, resources=True)["read_resource"]
    result = await reader.invoke(ActionCall(action="read_resource", arguments={"uri": "x://y"}))
    assert result.state is ActionState.ERROR and result.error is not None
    assert result.error.type == "McpError" and result.error.details["code"] == -32602
    assert "Unknown resource: x://y" in result.error.message


async def test_a_missing_uri_is_a_validation_error_naming_the_field(stdio_command: str) -> None:
    reader = from_mcp(stdio_command, resources=True)["read_resource"]
    result = await reader.invoke(ActionCall(action="read_resource", arguments={}))
    assert result.error is not None
    assert (result.error.type, result.error.field) == ("ValidationError", "uri")


def test_a_prompts_arguments_are_its_input_schema(stdio_command: str) -> None:
    tools = from_mcp(stdio_command, prompts=True)
    review = tools["prompt.review"].spec
    assert review.description == "Ask for a review of a piece of code."
    assert review.input_schema["properties"] == {
        "code": {"type": "string"},
        "focus": {"type": "string"},
    }
    assert review.input_schema["required"] == ["code"]
    assert review.output_schema["type"] == "array"
    assert tools["prompt.greet"].spec.description == "Greeting"  # its title: it has no description
    assert review.card is not None and "mcp-prompt" in review.card.tags


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_prompt_renders_its_messages_as_chat_messages(
    transport: str, stdio_command: str, http_url: str
) -> None:
    server = stdio_command if transport == "stdio" else http_url
    review = from_mcp(server, prompts=True)["prompt.review"]
    call = ActionCall(action="prompt.review", arguments={"code": "x = 1", "focus": "style"})
    result = await review.invoke(call)
    assert result.state is ActionState.OK, result.error
    assert result.output == [
        {"role": "user", "content": "Review this code for style:\nx = 1"},
        {"role": "assistant", "content": "I will look at it."},
    ]


async def test_a_value_that_is_no_string_is_sent_as_json_text(stdio_command: str) -> None:
    greet = from_mcp(stdio_command, prompts=True)["prompt.greet"]
    result = await greet.invoke(ActionCall(action="prompt.greet", arguments={"name": [1, 2]}))
    assert result.output == [{"role": "user", "content": "Say hello to [1, 2]."}]


async def test_a_missing_required_argument_is_a_validation_error_naming_it(
    stdio_command: str,
) -> None:
    review = from_mcp(stdio_command, prompts=True)["prompt.review"]
    result = await review.invoke(ActionCall(action="prompt.review", arguments={"focus": "x"}))
    assert result.state is ActionState.ERROR and result.error is not None
    assert (result.error.type, result.error.field) == ("ValidationError", "code")
    assert "missing argument 'code'" in result.error.message


async def test_a_yaml_workflow_reads_a_resource_and_renders_a_prompt(
    stdio_command: str, tmp_path: Path
) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: notes
            actions:
              fx: {{mcp: "{stdio_command}"}}
            nodes:
              readme:
                action: fx.read_resource
                with: {{uri: "notes://readme"}}
              ask:
                action: fx.prompt.review
                after: readme
                with: {{code: "${{readme}}"}}
            """
        )
    )
    result = await run_workflow(path, record=False)
    assert result.ok, result.error
    [message, _] = result.outputs["ask"]
    assert message == {
        "role": "user",
        "content": "Review this code for bugs:\n# Notes\nWrite them down.",
    }
