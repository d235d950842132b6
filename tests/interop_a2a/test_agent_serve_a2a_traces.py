"""Tasks an A2A client sends ``weft agent serve --a2a`` are traced as runs; weft's own calls
to the same agent stay in their caller's run, and only there.

``weft agent serve --a2a`` runs in a process of its own against the test
broker; a plain MQTT v5 requester (``A2aMqttClient``) calls it over A2A's
MQTT binding, ``weft run --broker`` over weft's protocol. Then ``weft trace
ls --json`` lists one run per A2A task, ``SKILL (a2a-mqtt)``, with its state
and spans, as for ``weft a2a serve --mqtt`` (``test_a2a_served_traces``).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from served_trace_store import home, spans_of, trace_ls

from weft.protocols import a2a_mqtt as wire
from weft.testing.a2a_mqtt_client import A2aMqttClient
from weft.testing.processes import weft_process

ROOT = Path(__file__).resolve().parents[2]
TOOLS = "tests/served_actions.py:tools"
#: What ``weft agent serve`` says once it serves A2A too (its weft line follows).
A2A_READY = "also serves A2A over MQTT"


def weft_cli(*args: str) -> str:
    """``weft ARGS``, run as a user runs it; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "weft", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def runs_by_name() -> dict[str, dict[str, Any]]:
    """``weft trace ls --json``, by run name."""
    return {run["workflow"]: run for run in trace_ls()}


def agent_serve(unit: str, broker: str, *flags: str) -> list[str]:
    """``weft agent serve`` of the served actions as agent ``served-1``, A2A ``acme/UNIT``."""
    return [
        "agent", "serve", TOOLS, "--agent-id", "served-1", "--a2a", f"acme/{unit}",
        "--namespace", unit, "--broker", broker, *flags,
    ]  # fmt: skip


def new_unit() -> tuple[str, wire.A2aMqttAddress]:
    unit = f"u{uuid.uuid4().hex[:10]}"
    return unit, wire.A2aMqttAddress("acme", unit, "served-1")


def state(reply: Any) -> str:
    return str(reply.body["result"]["task"]["status"]["state"])


async def test_each_a2a_task_is_a_run_with_its_state_and_spans(mqtt_broker_url: str) -> None:
    unit, address = new_unit()
    async with (
        weft_process(*agent_serve(unit, mqtt_broker_url), ready=A2A_READY, cwd=ROOT),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        topic = address.request_topic
        said = await client.send_message(topic, "hi", skill="echo", context_id="ctx-alice")
        relayed = await client.send_message(topic, "along", skill="relay")
        await client.clear(address)
    assert state(said) == state(relayed) == "TASK_STATE_COMPLETED"

    runs = runs_by_name()
    assert runs["echo (a2a-mqtt)"]["state"] == "succeeded"
    assert runs["relay (a2a-mqtt)"]["state"] == "succeeded"
    run, call = spans_of(runs["echo (a2a-mqtt)"]["run_id"])
    assert (run.kind, run.name, run.status) == ("run", "echo (a2a-mqtt)", "succeeded")
    assert run.attributes["served.protocol"] == "a2a-mqtt"
    assert run.attributes["served.client"] == "ctx-alice"
    assert run.attributes["served.task"] == said.body["result"]["task"]["id"]
    assert (call.kind, call.name, call.status) == ("call", "echo", "ok")
    assert call.attributes["output"] == "hi" and call.parent_id == run.span_id
    relay = {s.name: s for s in spans_of(runs["relay (a2a-mqtt)"]["run_id"])}
    assert relay["echo"].parent_id == relay["relay"].span_id  # the call it made by name
    assert relay["relay"].attributes["output"] == "relayed: along"


async def test_a_task_whose_action_raises_is_a_failed_run(mqtt_broker_url: str) -> None:
    unit, address = new_unit()
    async with (
        weft_process(*agent_serve(unit, mqtt_broker_url), ready=A2A_READY, cwd=ROOT),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        failed = await client.send_message(address.request_topic, {"n": 500}, skill="boom")
        await client.clear(address)
    assert state(failed) == "TASK_STATE_FAILED"
    run = runs_by_name()["boom (a2a-mqtt)"]
    assert run["state"] == "failed"
    boom = {s.kind: s for s in spans_of(run["run_id"])}
    assert boom["run"].attributes["error"] == "ValueError: boom: 500 is too big for this tool"
    assert boom["call"].status == "error"
    assert "served_actions.py" in boom["call"].attributes["error"]["details"]["traceback"]


async def test_weft_callers_calls_are_in_the_callers_run_only(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    """A call over weft's protocol brings the agent's spans back to its caller's run; the
    agent, serving A2A and traced, keeps no second run of it."""
    unit, address = new_unit()
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: relayed\nnodes:\n  say: {action: relay, with: {text: over weft}}\n")
    async with (
        weft_process(*agent_serve(unit, mqtt_broker_url), ready=A2A_READY, cwd=ROOT),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        weft_cli("run", str(flow), "--broker", mqtt_broker_url, "--namespace", unit)
        await client.clear(address)
    runs = runs_by_name()
    assert list(runs) == ["relayed"]
    spans = {s.name: s for s in spans_of(runs["relayed"]["run_id"])}
    served = spans["relay"]
    assert served.attributes["weft.side"] == "agent" and served.agent == "served-1"
    assert spans["echo"].parent_id == served.span_id


async def test_no_trace_writes_nothing(mqtt_broker_url: str) -> None:
    unit, address = new_unit()
    args = agent_serve(unit, mqtt_broker_url, "--no-trace")
    async with (
        weft_process(*args, ready=A2A_READY, cwd=ROOT),
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        said = await client.send_message(address.request_topic, "hi", skill="echo")
        failed = await client.send_message(address.request_topic, {"n": 500}, skill="boom")
        await client.clear(address)
    assert state(said) == "TASK_STATE_COMPLETED" and state(failed) == "TASK_STATE_FAILED"
    assert not list(home().glob("traces.db*"))


async def test_a_store_that_cannot_be_used_does_not_stop_the_agent(
    mqtt_broker_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    monkeypatch.setenv("WEFT_HOME", str(taken / "home"))
    unit, address = new_unit()
    args = agent_serve(unit, mqtt_broker_url, "--key", str(tmp_path / "agent.key"))
    ready = r"(?s)not tracing the calls it serves: (.*?)\n.*agent served-1 serving"
    async with (
        weft_process(*args, ready=ready, cwd=ROOT) as served,
        A2aMqttClient(mqtt_broker_url) as client,
    ):
        said = await client.send_message(address.request_topic, "still served", skill="echo")
        await client.clear(address)
    assert state(said) == "TASK_STATE_COMPLETED"
    said_once = served.ready.group(0)
    assert said_once.startswith("not tracing") and said_once.count("not tracing") == 1
    assert "is a file, not a folder" in served.ready.group(1)
    assert "--no-trace" in served.ready.group(1)
