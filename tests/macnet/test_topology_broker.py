"""``weft topology`` with agents by name, run with ``weft run --broker``: every node is
served by a remote agent, and a capability node is routed among the agents serving.

The agents serve in this test's process, on a namespace of their own; ``weft
run`` is a real process.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.cli.test_run_placement_remote import weft_run
from weft import tool
from weft.cli import cli
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.card_signing import AgentKey


@tool
def scribe(task: Any) -> str:
    """Write notes on a topic."""
    return f"notes({task if isinstance(task, str) else len(task)})"


@tool
def polisher(text: Any) -> str:
    """Polish the wording and style of a piece of prose."""
    return f"polished({text})"


async def test_a_network_of_remote_agents_runs_over_the_broker(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "wf.yaml"
    written = CliRunner().invoke(
        cli,
        ["topology", "chain", "--nodes", "3", "--actor", "scribe",
         "--capability", "polish the wording of the prose", "-o", str(out)],
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    assert "--broker" in written.output
    namespace = f"macnet-{uuid.uuid4().hex[:10]}"
    agent_id = f"writers-{uuid.uuid4().hex[:6]}"
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        AgentHost(
            bus,
            [scribe, polisher],
            agent_id=agent_id,
            key=AgentKey.load_or_create(tmp_path / "keys" / "agent.key"),
        ),
    ):
        code, stdout, stderr = await weft_run(
            tmp_path,
            str(out),
            "-i",
            "task=tides",
            "--broker",
            mqtt_broker_url,
            "--namespace",
            namespace,
            "--json",
        )
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["state"] == "succeeded"
    # n0 scribe -> n1 capability (the polisher) -> n2 scribe; every node on the agent
    assert report["outputs"] == {"n2": "notes(polished(notes(tides)))"}
    assert {name: n["agents"] for name, n in report["nodes"].items()} == {
        "n0": [agent_id],
        "n1": [agent_id],
        "n2": [agent_id],
    }
