"""A remote call in the caller's trace: the serving agent, its spans, every attempt, progress.

The agents here keep no trace of their own: whatever the caller's trace shows
of them came back over the broker with the call.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from distributed_agents import events, shout
from distributed_support import ROOT, WAIT, AgentProcesses, agent_of, wait_until

import weft
from weft.agents import LLMAgent
from weft.protocols import ActionCall, ActionContext, ActionSpec, EventKind, RunEvent
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.card_signing import AgentKey
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.remote.remote_action import RemoteAction
from weft.runtime.support.home import default_key_path
from weft.runtime.support.redaction import register_secret
from weft.runtime.tracing.spans import MemoryTracer, SpanRecord
from weft.runtime.tracing.store import TraceStore
from weft.testing import OpenAIServer, ScriptedModel, text


@weft.tool
async def shout_twice(text: str, ctx: ActionContext) -> str:
    """Calls the agent's own ``shout`` through its context (a nested span on the agent)."""
    first = await ctx.invoke("shout", {"text": text})
    return f"{first.output} {first.output}"


#: Set by the caller when it has seen ``stepper``'s progress; ``stepper`` waits for it.
progress_seen: asyncio.Event | None = None


@weft.tool
async def stepper(ctx: ActionContext) -> str:
    """Reports progress, then finishes only once the caller has received the report."""
    ctx.progress("half way", 0.5, step=1)
    assert progress_seen is not None
    await progress_seen.wait()
    return "done"


@weft.tool
def leaky(size: int) -> str:
    """Returns a long text that starts with a secret."""
    return "sk-remote-secret-0123456789 " + "x" * size


async def run_traced(
    registry: LiveRegistry,
    workflow: weft.Workflow,
    inputs: dict[str, Any] | None = None,
    listeners: list[Any] | None = None,
) -> tuple[weft.RunResult, MemoryTracer]:
    tracer = MemoryTracer()
    result = await weft.run_workflow(
        workflow, inputs or {}, actions=registry.actions(), tracer=tracer, listeners=listeners or []
    )
    assert result.ok, result.error
    return result, tracer


def node_span(tracer: MemoryTracer) -> SpanRecord:
    (node,) = tracer.by_kind("node")
    return node


def agent_side(tracer: MemoryTracer, name: str) -> list[SpanRecord]:
    return [s for s in tracer.spans if s.attributes.get("weft.side") == "agent" and s.name == name]


async def test_the_serving_agent_and_its_spans_join_the_callers_trace(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    wf = weft.Workflow("joined")
    wf.node("loud", "shout_twice", with_={"text": "hi"})
    async with (
        MqttBus(broker_url, namespace=ns) as bus,
        AgentHost(bus, [shout, shout_twice]) as host,  # no tracer: nothing kept on its side
    ):
        await caller.wait_for(["shout_twice"], WAIT)
        result, tracer = await run_traced(caller, wf)
    node = node_span(tracer)
    (served,) = agent_side(tracer, "shout_twice")
    (nested,) = agent_side(tracer, "shout")
    assert node.agent == host.agent_id
    assert result.nodes["loud"].agent == host.agent_id
    assert served.trace_id == nested.trace_id == node.trace_id
    assert served.parent_id == node.span_id
    assert nested.parent_id == served.span_id
    assert served.agent == nested.agent == host.agent_id
    assert served.attributes["output"] == "HI HI" and served.attributes["weft.attempt"] == 1
    assert served.start >= node.start and served.end <= node.end


async def test_an_llm_agent_served_remotely_leaves_its_llm_spans_in_the_callers_store(
    broker_url: str, ns: str, caller: LiveRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "WEFT_MODEL", "WEFT_TRACE_CONTENT"):
        monkeypatch.delenv(name, raising=False)
    model = ScriptedModel([text("Bonjour.")])
    wf = weft.Workflow("translated")
    wf.node("fr", "translator", with_={"task": "Say hello in French."})
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "translator", instructions="Translate.", model="gpt-test", base_url=server.base_url
        )
        async with (
            MqttBus(broker_url, namespace=ns) as bus,
            AgentHost(bus, [agent]) as host,
        ):
            await caller.wait_for(["translator"], WAIT)
            with TraceStore(tmp_path / "traces.db") as store:
                result = await weft.run_workflow(wf, actions=caller.actions(), tracer=store)
                assert result.ok, result.error
                spans = store.spans(result.run_id)
    model.assert_complete()
    (node,) = [s for s in spans if s.kind == "node"]
    (served,) = [s for s in spans if s.attributes.get("weft.side") == "agent"]
    (llm,) = [s for s in spans if s.kind == "llm"]
    assert node.agent == served.agent == host.agent_id
    assert served.parent_id == node.span_id and llm.parent_id == served.span_id
    assert {node.trace_id, served.trace_id, llm.trace_id} == {node.trace_id}
    assert llm.attributes["output"] == {"role": "assistant", "content": "Bonjour."}
    assert served.attributes["usage"]["llm_calls"] == 1


async def test_progress_reaches_the_caller_while_the_remote_call_runs(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    global progress_seen
    progress_seen = asyncio.Event()
    received: list[RunEvent] = []

    def on_event(event: RunEvent) -> None:
        if event.kind is EventKind.PROGRESS:
            received.append(event)
            assert progress_seen is not None
            progress_seen.set()  # only now can the remote call finish

    wf = weft.Workflow("stepping")
    wf.node("step", "stepper", timeout=WAIT)
    async with MqttBus(broker_url, namespace=ns) as bus, AgentHost(bus, [stepper]):
        await caller.wait_for(["stepper"], WAIT)
        result, tracer = await run_traced(caller, wf, listeners=[on_event])
    assert result.outputs["step"] == "done"
    (event,) = received
    assert event.key == "step" and event.node == "step"
    assert event.data == {"message": "half way", "fraction": 0.5, "step": 1}
    (served,) = agent_side(tracer, "stepper")
    [(reported)] = served.attributes["weft.progress"]
    assert reported["message"] == "half way" and reported["fraction"] == 0.5


class Recorder:
    """A context that keeps what a remote call hands it."""

    def __init__(self, call: ActionCall) -> None:
        self.call = call
        self.spans: list[dict[str, Any]] = []

    async def invoke(self, action: str, arguments: dict[str, Any]) -> Any:
        raise AssertionError("not used")

    def actions(self) -> list[ActionSpec]:
        return []

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        return None

    def record_span(self, span: dict[str, Any]) -> None:
        self.spans.append(span)


async def test_spans_leave_the_agent_redacted_and_cut(broker_url: str, ns: str) -> None:
    register_secret("sk-remote-secret-0123456789")
    call = ActionCall(action="leaky", arguments={"size": 50_000}, trace_id="ab" * 16)
    recorder = Recorder(call)
    async with MqttBus(broker_url, namespace=ns) as bus, AgentHost(bus, [leaky]) as host:
        remote = RemoteAction(bus, leaky.spec, agent=host.agent_id, default_timeout=WAIT)
        result = await remote.invoke(call, recorder)
    assert result.ok and result.agent == host.agent_id
    assert len(result.output) > 50_000  # the result is whole; only its span is cut
    (span,) = recorder.spans
    assert span["parent_id"] == call.call_id and span["agent"] == host.agent_id
    stored = json.dumps(span["attributes"])
    assert "sk-remote-secret" not in stored
    assert "truncated" in stored and len(stored) < 10_000


async def test_a_fail_over_shows_both_agents_and_counts_both_attempts(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    log, gate = tmp_path / "effects.log", tmp_path / "gate"
    first = await agent_procs.start("distributed_agents:effect")
    second = await agent_procs.start("distributed_agents:effect")
    agents = {first.pid: await agent_of(caller, first), second.pid: await agent_of(caller, second)}
    wf = weft.Workflow("fail-over")
    wf.node("fx", "effect", with_={"key": "k", "log": str(log), "gate": str(gate)}, timeout=120)
    tracer = MemoryTracer()
    run = asyncio.create_task(weft.run_workflow(wf, actions=caller.actions(), tracer=tracer))
    await wait_until(lambda: bool(events(log)), what="the call to start")
    [(_, _, victim_pid)] = events(log)
    victim = first if victim_pid == first.pid else second
    survivor = second if victim is first else first
    victim.send_signal(signal.SIGKILL)
    await victim.wait()
    gate.touch()
    result = await asyncio.wait_for(run, 90)

    assert result.ok, result.error
    assert result.nodes["fx"].attempts == 2
    node = node_span(tracer)
    assert node.attributes["weft.attempts"] == 2
    assert node.agent == agents[survivor.pid]
    (lost,) = [s for s in tracer.by_kind("call") if s.attributes.get("weft.side") == "caller"]
    assert lost.parent_id == node.span_id and lost.agent == agents[victim.pid]
    assert lost.status == "error" and lost.attributes["weft.attempt"] == 1
    assert lost.attributes["error"]["type"] == "AgentLost"
    assert agents[victim.pid] in lost.attributes["error"]["message"]
    (served,) = agent_side(tracer, "effect")
    assert served.parent_id == node.span_id and served.agent == agents[survivor.pid]
    assert served.attributes["weft.attempt"] == 2
    assert lost.end <= served.start


async def test_weft_trace_show_nests_the_agents_span_under_the_remote_call(
    broker_url: str, ns: str, agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    proc = await agent_procs.start("distributed_agents:shout")
    agent = await agent_of(caller, proc)
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: loud\nnodes:\n  up:\n    action: shout\n    with: {text: hi}\n")
    # The CLI has a home of its own, so it trusts the agent's key by its trust list.
    trust = tmp_path / "trust.yaml"
    trust.write_text(f'allow:\n  - keys: ["{AgentKey.load(default_key_path()).public_key}"]\n')
    env = {**os.environ, "WEFT_HOME": str(tmp_path / "home"), "WEFT_TRUST": str(trust)}

    async def weft_cli(*args: str) -> str:
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "weft", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
        )  # fmt: skip
        out, err = await asyncio.wait_for(cli.communicate(), 120)
        assert cli.returncode == 0, err.decode()
        return out.decode()

    await weft_cli("run", str(flow), "--broker", broker_url, "--namespace", ns)
    spans = [
        json.loads(line)
        for line in (await weft_cli("trace", "export", "last", "--format", "jsonl")).splitlines()
    ]
    (node,) = [s for s in spans if s["kind"] == "node"]
    (served,) = [s for s in spans if s["attributes"].get("weft.side") == "agent"]
    assert node["agent"] == served["agent"] == agent
    assert served["parent_id"] == node["span_id"] and served["trace_id"] == node["trace_id"]
    shown = (await weft_cli("trace", "show", "last")).splitlines()
    at = next(i for i, line in enumerate(shown) if " up  node" in line)
    assert f"@{agent}" in shown[at]
    assert " shout  call" in shown[at + 1] and f"@{agent}" in shown[at + 1]
