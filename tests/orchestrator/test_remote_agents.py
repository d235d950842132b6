"""The orchestrator over agents elsewhere: its actions are a registry, whatever the transport."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft import tool
from weft.cli import cli
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.orchestrator import Orchestrator
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry

REMOTE_AGENTS = '''
import os
from weft import tool

@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return f"facts on {topic.lower()} from pid {os.getpid()}"
'''


async def test_agents_served_on_a_bus_are_planned_routed_and_called_like_local_ones() -> None:
    @tool
    def research(topic: str) -> str:
        """Research facts about a topic."""
        return f"remote facts on {topic.lower()}"

    @tool
    def compare(text: str) -> str:
        """Compare findings side by side."""
        return "compared: " + text.replace("\n\n", " | ")

    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_bus,
        InProcessBus(broker) as caller_bus,
        AgentHost(agent_bus, [research], agent_id="researcher-1"),
        LiveRegistry(caller_bus) as live,
    ):
        actions = live.actions()
        actions.register(compare)  # one remote agent, one local tool
        answer = await Orchestrator(actions).ask(
            "Research owls. Research bats. Finally compare them."
        )
    assert answer.ok, answer.error
    assert answer.routes == {"s1": "research", "s2": "research", "s3": "compare"}
    assert answer.results["s3"] == (
        "compared: remote facts on research owls | remote facts on research bats"
    )


@pytest.fixture
def served_agent(mqtt_broker_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``weft agent serve`` in its own process, on a namespace of its own: (broker, namespace)."""
    (tmp_path / "remote_team.py").write_text(REMOTE_AGENTS)
    namespace = f"ask-{uuid.uuid4().hex[:10]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weft",
            "agent",
            "serve",
            "remote_team.py:research",
            "--broker",
            mqtt_broker_url,
            "--namespace",
            namespace,
            "--heartbeat",
            "0.5",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if not asyncio.run(_wait_for_agent(mqtt_broker_url, namespace, "research")):
            process.terminate()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"the agent did not come up: {err.decode()[-2000:]}")
        yield mqtt_broker_url, namespace
    finally:
        process.terminate()
        process.wait(timeout=15)


async def _wait_for_agent(broker: str, namespace: str, action: str) -> bool:
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

    async with MqttBus(broker, namespace=namespace) as bus, LiveRegistry(bus) as live:
        return await live.wait_until(lambda: action in live.action_names(), timeout=20)


def test_weft_ask_uses_agents_in_another_process_over_mqtt(
    served_agent: tuple[str, str], tmp_path: Path
) -> None:
    broker, namespace = served_agent
    result = CliRunner().invoke(
        cli,
        [
            "ask",
            "Research owls.",
            "--broker",
            broker,
            "--namespace",
            namespace,
            "--journal",
            str(tmp_path / "journal.db"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    answer = result.stdout.strip()
    assert answer.startswith("facts on research owls from pid ")
    assert int(answer.rsplit(" ", 1)[1]) != os.getpid()
