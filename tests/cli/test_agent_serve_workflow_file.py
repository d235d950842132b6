"""``weft agent serve flow.yaml[:NAME]``: a workflow file's actions served as an agent.

A user who wrote an ``llm:`` agent in YAML (docs/yaml.md) serves it on another
machine as it is: the agent process (its own folder) builds the file's
actions as ``weft run`` would, setting aside the file's nodes, which may name
actions other agents serve; ``weft run --broker`` in another folder calls it
there. The model is the real ``openai`` client against the scripted local
server; the broker is real. The mistakes a user makes naming a target are one
line each, naming the target and what is wrong.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.cli._serve_targets import load_target
from weft.testing import OpenAIServer, ScriptedModel, text

TOOLS = """
def word_count(text: str) -> int:
    \"\"\"Count the words of a text.\"\"\"
    return len(text.split())
"""

#: The agent's file: an llm: agent and the tool it names, and a node that names an
#: action no entry defines (served elsewhere): serving must not need it.
AGENT_FILE = """
name: writers
actions:
  word_count: {{python: "{module}:word_count"}}
  writer:
    llm:
      instructions: "Write one sentence."
      model: m
      tools: [word_count]
  spare:
    llm:
      instructions: "Not served with writer."
      model: m
nodes:
  elsewhere:
    action: served_by_another_agent
    with: {{text: "x"}}
"""

CALLER_FILE = """
name: caller
nodes:
  write:
    action: writer
    with: {task: "A sentence about rivers."}
outputs:
  text: ${write}
"""


def agent_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "agent"
    folder.mkdir()
    module = f"serve_yaml_tools_{uuid.uuid4().hex[:12]}"
    (folder / f"{module}.py").write_text(TOOLS)
    (folder / "writers.yaml").write_text(AGENT_FILE.format(module=module))
    return folder


def test_a_workflow_file_target_gives_its_actions_and_an_agent_its_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = agent_folder(tmp_path)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    assert sorted(load_target("writers.yaml")) == ["spare", "word_count", "writer"]
    assert sorted(load_target("writers.yaml:writer")) == ["word_count", "writer"]


def test_an_mcp_entry_named_gives_its_tools(tmp_path: Path) -> None:
    from tests.interop_mcp.conftest import STDIO_COMMAND

    path = tmp_path / "tools.yaml"
    path.write_text(f"actions:\n  fx: {{mcp: {json.dumps(STDIO_COMMAND)}}}\n")
    every = load_target(str(path))
    named = load_target(f"{path}:fx")
    assert sorted(named) == sorted(every) and named  # each tool, as fx.TOOL
    assert all(name.startswith("fx.") for name in named)


async def test_an_llm_agent_of_a_yaml_file_is_served_and_called_from_another_folder(
    tmp_path: Path, mqtt_broker_url: str
) -> None:
    folder = agent_folder(tmp_path)
    caller = tmp_path / "caller"
    caller.mkdir()
    (caller / "flow.yaml").write_text(CALLER_FILE)
    namespace = f"serve-yaml-{uuid.uuid4().hex[:10]}"
    common = ["--broker", mqtt_broker_url, "--namespace", namespace]
    home = {"WEFT_HOME": str(tmp_path / "home")}  # one user: the caller trusts the agent's key
    with OpenAIServer(ScriptedModel([text("Rivers run to the sea.")])) as server:
        agent = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "weft", "agent", "serve", "writers.yaml:writer", *common,
            cwd=folder,
            env={**os.environ, **home, "OPENAI_BASE_URL": server.base_url},
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert agent.stderr is not None
        try:
            started = (await asyncio.wait_for(agent.stderr.readline(), timeout=60)).decode()
            assert re.search(r"agent writer-\w+ serving writer, word_count on", started), started
            run = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "weft", "run", "flow.yaml", *common, "--no-stream",
                "--wait-agents", "20",
                cwd=caller,
                env={**os.environ, **home, "OPENAI_BASE_URL": "", "WEFT_BROKER": ""},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(run.communicate(), timeout=60)
        finally:
            agent.send_signal(signal.SIGTERM)
            _, rest = await asyncio.wait_for(agent.communicate(), timeout=60)
    assert run.returncode == 0, err.decode()
    shown = out.decode()
    assert re.search(r"✓ write .* agent writer-\w+$", shown, re.MULTILINE), shown
    assert "text: Rivers run to the sea." in shown
    assert agent.returncode == 0, rest.decode()
    assert "HTTP Request" not in rest.decode()  # the model client's INFO lines: debug only


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("no_such_module:tool", "no module 'no_such_module' in the current folder"),
        ("tools_here:word_cont", "has no attribute 'word_cont' (did you mean 'word_count'?)"),
        ("tools_here.py", "has no action at its top level (a @weft.tool function, an agent)"),
        ("tools_here.py:wordcount", "has no attribute 'wordcount' (did you mean 'word_count'?)"),
        ("flow.yaml:writr", "the file has no action 'writr' (did you mean 'writer'?"),
        ("bad_tool.yaml:writer", "bad_tool.yaml:7:"),  # its tool is no action: at its line
        ("nodes_only.yaml", "the file defines no actions to serve"),
        ("missing.yaml", "missing.yaml: no such file"),
    ],
)
def test_a_mistaken_target_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, expected: str
) -> None:
    (tmp_path / "tools_here.py").write_text(TOOLS)
    (tmp_path / "flow.yaml").write_text("actions:\n  writer: {llm: {instructions: Write.}}\n")
    (tmp_path / "bad_tool.yaml").write_text(
        textwrap.dedent(
            """
            actions:
              word_count: {python: "tools_here:word_count"}
              writer:
                llm:
                  instructions: "Write."
                  tools: [word_cont]
            """
        )
    )
    (tmp_path / "nodes_only.yaml").write_text("name: n\nnodes: {a: {action: b}}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(
        cli,
        ["agent", "serve", target, "--broker", "mqtt://127.0.0.1:9", "--key", "k.pem"],
        env={"WEFT_HOME": str(tmp_path)},
    )
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    assert "Traceback" not in result.output
    if target.startswith("bad_tool"):
        assert "tool 'word_cont' is no action of this workflow (did you mean 'word_count'?" in (
            result.output
        )


def test_a_file_without_object_serves_its_top_level_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``weft ask --agents tools.py`` takes them: a file of @tool functions named alone
    is served whole (it used to say the file names no object)."""
    from weft.cli._serve_targets import load_target

    (tmp_path / "served_tools.py").write_text(
        "from weft import tool\n\n"
        "@tool\ndef shout(text: str) -> str:\n    return text.upper()\n\n"
        "@tool\ndef whisper(text: str) -> str:\n    return text.lower()\n\n"
        "def helper(text: str) -> str:  # a plain function is not taken\n    return text\n"
    )
    monkeypatch.chdir(tmp_path)
    found = load_target("served_tools.py")
    assert sorted(a.name for a in found) == ["shout", "whisper"]
