"""A node whose action sends its work out says where it went, not ``local``.

An A2A agent (an in-process ``A2aHttpServer`` serving weft tools) and an MCP
tool (the MCP test server, started over stdio) each do a node's work;
``weft run``'s summary and its JSON name them (``a2a URL``, ``mcp SERVER``),
while a plain Python tool beside them stays ``local``. The actions say
where in ``ActionResult.agent``; the CLI knows nothing of A2A or MCP.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft import tool
from weft.cli import cli
from weft.runtime.interop.a2a_server import A2aHttpServer

ROOT = Path(__file__).resolve().parents[2]
MCP_FIXTURE = ROOT / "tests" / "interop_mcp" / "mcp_server_fixture.py"

TOOLS = """
import weft

@weft.tool
def shout(text: str) -> str:
    return text.upper()
"""


@tool
def reverse(text: str) -> dict[str, str]:
    """Reverse the text."""
    return {"text": text[::-1]}


@pytest.fixture
async def a2a_url() -> AsyncIterator[str]:
    async with A2aHttpServer([reverse], name="reverser") as running:
        yield running.url


def weft(tmp_path: Path, *args: str) -> Result:
    argv = [*args, "--journal", str(tmp_path / "journal.db")]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None})


def workflow(tmp_path: Path, action: str, call: str) -> Path:
    """``far`` calls ``action`` (declared as ``far_action``), ``near`` a local tool."""
    module = f"elsewhere_tools_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: elsewhere
            actions:
              far_action: {action}
              shout: {{python: "{module}:shout"}}
            nodes:
              far: {{action: {call}, with: {{text: abc}}}}
              near: {{action: shout, after: far, with: {{text: abc}}}}
            """
        )
    )
    return path


def summary_lines(stdout: str) -> dict[str, str]:
    """Node name -> its summary line."""
    lines = [line for line in stdout.splitlines() if line.startswith("  ✓")]
    return {line.split()[1]: line for line in lines}


@pytest.fixture(autouse=True)
def _importable_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))


async def test_a_node_on_an_a2a_agent_over_http_names_its_url(tmp_path: Path, a2a_url: str) -> None:
    flow = workflow(tmp_path, f'{{a2a: "{a2a_url}", skill: reverse}}', "far_action")
    # the CLI runs its own event loop; the server goes on serving on this one
    shown = await asyncio.to_thread(weft, tmp_path, "run", str(flow))
    assert shown.exit_code == 0, shown.output
    lines = summary_lines(shown.stdout)
    assert lines["far"].endswith(f"  a2a {a2a_url}"), lines
    assert lines["near"].endswith("  local"), lines
    as_json = await asyncio.to_thread(weft, tmp_path, "run", str(flow), "--json")
    nodes = json.loads(as_json.stdout)["nodes"]
    assert nodes["far"]["agents"] == [f"a2a {a2a_url}"]
    assert nodes["near"]["agents"] == []


def test_a_node_on_an_mcp_tool_names_its_server(tmp_path: Path) -> None:
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(MCP_FIXTURE))}"
    flow = workflow(tmp_path, json.dumps({"mcp": command}), "far_action.echo")
    environ = {k: v for k, v in os.environ.items() if k != "WEFT_BROKER"}
    # a real `weft` process: the stdio server inherits its stderr, which CliRunner lacks
    shown = subprocess.run(
        [sys.executable, "-m", "weft", "run", str(flow), "--journal", str(tmp_path / "j.db")],
        cwd=tmp_path,
        env={**environ, "WEFT_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    lines = summary_lines(shown.stdout)
    assert lines["far"].endswith(f"  mcp {command}"), lines
    assert lines["near"].endswith("  local"), lines
