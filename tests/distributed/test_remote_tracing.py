"""One trace across processes: the agent's span is a child of the caller's call span."""

from __future__ import annotations

from distributed_agents import shout
from distributed_support import WAIT

import weft
from weft.protocols import ActionContext
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.engine.executor import Executor
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.tracing.spans import MemoryTracer


@weft.tool
async def shout_twice(text: str, ctx: ActionContext) -> str:
    """Calls the agent's own ``shout`` through its context (a nested span)."""
    first = await ctx.invoke("shout", {"text": text})
    return f"{first.output} {first.output}"


async def run_traced(
    registry: LiveRegistry, workflow: weft.Workflow, inputs: dict[str, object] | None = None
) -> MemoryTracer:
    tracer = MemoryTracer()
    prepared = compile_workflow(workflow, registry.actions())
    result = await Executor(tracer=tracer).run(prepared, inputs or {})
    assert result.ok, result.error
    return tracer


async def test_the_remote_span_is_a_child_of_the_calling_node_span(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    agent_tracer = MemoryTracer()
    wf = weft.Workflow("traced")
    wf.node("loud", "shout", with_={"text": "hi"})
    async with (
        MqttBus(broker_url, namespace=ns) as bus,
        AgentHost(bus, [shout], tracer=agent_tracer) as host,
    ):
        await caller.wait_for(["shout"], WAIT)
        caller_tracer = await run_traced(caller, wf)
    (node,) = caller_tracer.by_kind("node")
    (served,) = agent_tracer.spans
    assert served.trace_id == node.trace_id
    assert served.parent_id == node.span_id
    assert served.agent == host.agent_id and served.name == "shout"
    assert served.attributes["output"] == "HI"


async def test_foreach_calls_and_nested_calls_on_the_agent_keep_their_parents(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    agent_tracer = MemoryTracer()
    wf = weft.Workflow("traced")
    wf.input("words", type="array")
    wf.node("twice", "shout_twice", foreach="${inputs.words}", with_={"text": "${item}"})
    async with (
        MqttBus(broker_url, namespace=ns) as bus,
        AgentHost(bus, [shout, shout_twice], tracer=agent_tracer),
    ):
        await caller.wait_for(["shout_twice"], WAIT)
        caller_tracer = await run_traced(caller, wf, {"words": ["a", "b"]})
    # The caller's own call spans (the agent's spans come back to its trace too).
    calls = {s.span_id: s for s in caller_tracer.by_kind("call") if "weft.side" not in s.attributes}
    outer = [s for s in agent_tracer.spans if s.name == "shout_twice"]
    inner = [s for s in agent_tracer.spans if s.name == "shout"]
    assert len(calls) == len(outer) == len(inner) == 2
    assert {s.parent_id for s in outer} == set(calls)
    assert {s.parent_id for s in inner} == {s.span_id for s in outer}
    assert len({s.trace_id for s in agent_tracer.spans} | {c.trace_id for c in calls.values()}) == 1
