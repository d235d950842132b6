"""``weft run --broker``: the summary names the agent that served each remote node.

An agent serves ``shout`` in this test's process, on a namespace of its own;
``weft run`` runs as a real process, with ``echo`` defined locally.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import uuid
from pathlib import Path

from weft import tool
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.card_signing import AgentKey

TOOLS = """
import weft

@weft.tool
def echo(value: object = None) -> object:
    return value
"""


@tool
async def dawdle(text: str) -> str:
    """Takes far longer than any node gives it (cancelled when the caller gives up)."""
    await asyncio.sleep(120)
    return text


@tool
def shout(text: str) -> str:
    """Upper-cases the text."""
    return text.upper()


def write_workflow(tmp_path: Path) -> Path:
    module = f"remote_placement_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: mixed
            actions:
              echo: {{python: "{module}:echo"}}
            nodes:
              here:
                action: echo
                with: {{value: "hello"}}
              there:
                action: shout
                after: here
                with: {{text: "${{here}}"}}
            """
        )
    )
    return path


async def weft_run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "weft",
        "run",
        *args,
        "--journal",
        str(tmp_path / "journal.db"),
        cwd=tmp_path,
        env={**os.environ, "WEFT_HOME": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_summary_names_the_agent_of_each_remote_node(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    workflow = write_workflow(tmp_path)
    namespace = f"placement-{uuid.uuid4().hex[:10]}"
    agent_id = f"shouter-{uuid.uuid4().hex[:6]}"
    common = [str(workflow), "--broker", mqtt_broker_url, "--namespace", namespace]
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        # Signed with a key of the CLI's home: the run trusts it as a local key.
        AgentHost(
            bus,
            [shout],
            agent_id=agent_id,
            key=AgentKey.load_or_create(tmp_path / "keys" / "agent.key"),
        ),
    ):
        code, out, err = await weft_run(tmp_path, *common, "--wait-agents", "10")
        code_json, out_json, _ = await weft_run(tmp_path, *common, "--json")
    assert code == 0, err
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("  ✓")}
    assert lines["here"].endswith("  local")
    assert lines["there"].endswith(f"  agent {agent_id}")
    assert code_json == 0
    nodes = json.loads(out_json)["nodes"]
    assert nodes["there"]["agents"] == [agent_id]
    assert nodes["here"]["agents"] == []


async def test_a_call_an_agent_kept_past_its_timeout_names_the_agent_and_the_fix(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    """The node failed on the agent that accepted its call, not "nowhere", and the error
    says how to give the call more time."""
    workflow = tmp_path / "slow.yaml"
    workflow.write_text(
        textwrap.dedent(
            """
            name: slow
            nodes:
              late:
                action: dawdle
                timeout: 1
                with: {text: "hello"}
            """
        )
    )
    namespace = f"placement-{uuid.uuid4().hex[:10]}"
    agent_id = f"dawdler-{uuid.uuid4().hex[:6]}"
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        AgentHost(
            bus,
            [dawdle],
            agent_id=agent_id,
            key=AgentKey.load_or_create(tmp_path / "keys" / "agent.key"),
        ),
    ):
        code, out, err = await weft_run(
            tmp_path, str(workflow), "--broker", mqtt_broker_url, "--namespace", namespace
        )
    assert code != 0, out
    line = next(line for line in out.splitlines() if line.startswith("  ✗"))
    assert line.split()[1] == "late"
    assert line.endswith(f"  agent {agent_id}")
    assert "remote, no agent answered" not in out
    assert (
        f"agent '{agent_id}' accepted the call but sent no result in time; give it more "
        "time with the node's 'timeout:' (seconds per attempt) or the workflow's "
        "'defaults: {timeout: ...}'"
    ) in out + err
