"""A secret passed to a tool on an agent host never comes back over the bus or into a record.

``weft run --broker`` runs as a process of its own (user ``cli``), the agent
``alice`` serves the tools in this test's process, and the orchestrator user
listens to every reply. The tools echo their ``api_key`` into an output and an
exception message; the key must appear in no reply, in neither side's trace
store or journal, and in no export or view of the caller's trace.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import uuid
from pathlib import Path

from weft import ActionContext, tool
from weft.protocols import Topics
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost, agent_will
from weft.runtime.remote.card_signing import AgentKey
from weft.runtime.support.redaction import MASK
from weft.runtime.tracing.export import FORMATS, export
from weft.runtime.tracing.html import render_html
from weft.runtime.tracing.store import TraceStore

from .conftest import SecuredBroker

NS = "sec"
#: New in every run: the agent host, in this process, can only learn it from the calls.
SECRET = "ak-Remote-" + uuid.uuid4().hex[:12]


@tool
def connect(api_key: str, host: str, ctx: ActionContext) -> str:
    """Connects, and says with which key (in a progress report too)."""
    ctx.progress(f"logging in with {api_key}")
    return f"connected to {host} with {api_key}"


@tool
def refuse(api_key: str) -> str:
    """Fails, quoting the key it was refused."""
    raise ValueError(f"key {api_key} was refused")


WORKFLOW = """
name: remote-echoes
on_failure: continue
inputs:
  key: {type: string, required: true}
actions:
  quote: {python: "remote_secret_tools:quote"}
nodes:
  login:
    action: connect
    with: {api_key: "${inputs.key}", host: example.org}
  retry:
    action: refuse
    with: {api_key: "${inputs.key}"}
  report:
    action: quote
    after: login
    with: {text: "${login}"}
"""

LOCAL_TOOLS = """
def quote(text: str) -> str:
    return f"quoted: {text}"
"""


def files_holding(folder: Path, value: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and value.encode() in p.read_bytes()]


async def weft_run(folder: Path, home: Path, broker: str) -> tuple[int, str]:
    (folder / "remote_secret_tools.py").write_text(LOCAL_TOOLS)
    (folder / "wf.yaml").write_text(textwrap.dedent(WORKFLOW))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "weft",
        "run",
        "wf.yaml",
        "-i",
        f"key={SECRET}",
        "--namespace",
        NS,
        "--wait-agents",
        "10",
        cwd=folder,
        env={**os.environ, "WEFT_HOME": str(home), "WEFT_BROKER": broker},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_an_echoed_key_leaves_the_agent_host_masked_and_is_recorded_nowhere(
    secured: SecuredBroker, tmp_path: Path
) -> None:
    agent_home, caller_home = tmp_path / "agent", tmp_path / "caller"
    replies: list[bytes] = []
    agent_bus = MqttBus(
        secured.url("alice"),
        namespace=NS,
        client_id="alice",
        will=agent_will(Topics(NS), "alice"),
    )
    store = TraceStore(agent_home / "traces.db", writer="inline")
    # Two homes, as on two machines: the caller trusts the agent's key by its trust list.
    key = AgentKey.load_or_create(agent_home / "keys" / "agent.key")
    caller_home.mkdir(parents=True)
    (caller_home / "trust.yaml").write_text(f'allow:\n  - keys: ["{key.public_key}"]\n')
    async with (
        MqttBus(secured.url("orchestrator"), namespace=NS, client_id="listener") as listener,
        agent_bus,
        AgentHost(
            agent_bus, [connect, refuse], agent_id="alice", pool="alice", tracer=store, key=key
        ),
    ):
        sub = await listener.subscribe(f"{Topics(NS).prefix}/replies/#", qos=1)

        async def collect() -> None:
            async for message in sub:
                replies.append(message.payload)

        collecting = asyncio.create_task(collect())
        code, out = await weft_run(tmp_path, caller_home, secured.url("cli"))
        await sub.close()
        await collecting
    store.close()

    assert code == 1, out  # 'retry' failed, as it should
    assert "agent alice" in out and "ValueError" in out, out
    assert SECRET not in out
    results = [r for r in replies if b'"call_id"' in r and b'"state"' in r]
    assert len(results) >= 2, replies  # connect's and refuse's results went by
    assert all(SECRET.encode() not in r for r in replies), "the key went back over the bus"
    assert sum(MASK.encode() in r for r in results) >= 2  # masked, not missing
    assert any(f"logging in with {MASK}".encode() in r for r in replies)
    assert files_holding(agent_home, SECRET) == []

    assert files_holding(caller_home, SECRET) == []
    with TraceStore(caller_home / "traces.db") as caller_store:
        run = caller_store.get_run("last")
        spans = caller_store.spans(run.run_id)
    views = {fmt: export(spans, fmt) for fmt in FORMATS}
    views["html"] = render_html(run, spans)
    for fmt, text in views.items():
        assert SECRET not in text, fmt
        assert "example.org" in text, fmt
