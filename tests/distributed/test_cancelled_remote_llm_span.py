"""A run cancelled while a served LLM agent waits on its model keeps that request in its trace.

In-process, a cancelled run keeps the LLM request in flight as a ``cancelled``
``llm`` span (``tests/traces/test_cancelled_llm_span.py``). With the agent
served on a broker, the agent answered the cancel with its spans, but the
caller had stopped listening: the trace had the run and the node, cancelled,
and nothing of what the agent was doing. The caller now waits briefly for
that answer (one round trip through the broker) and records its spans.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from distributed_support import WAIT, fast_bus

from weft import Workflow
from weft.agents import LLMAgent
from weft.runtime import run_workflow
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.tracing.store import TraceStore
from weft.testing import HangingModel, OpenAIServer


@pytest.mark.usefixtures("no_model_settings")
async def test_a_served_agents_llm_request_cancelled_mid_request_is_in_the_callers_trace(
    broker_url: str, ns: str, tmp_path: Path
) -> None:
    hanging = HangingModel()
    run_id = uuid.uuid4().hex
    async with OpenAIServer(hanging) as server:
        agent = LLMAgent("writer", model="gpt-test", base_url=server.base_url, api_key="k")
        async with (
            fast_bus(broker_url, ns) as agent_bus,
            fast_bus(broker_url, ns) as caller_bus,
            AgentHost(agent_bus, [agent]) as host,  # no tracer, as `weft agent serve`
            LiveRegistry(caller_bus) as live,
        ):
            await live.wait_for(["writer"], WAIT)
            wf = Workflow("write")
            wf.node("write", "writer", with_={"task": "Write about otters"})
            with TraceStore(tmp_path / "traces.db") as store:
                run = asyncio.create_task(
                    run_workflow(wf, actions=live.actions(), tracer=store, run_id=run_id)
                )
                await asyncio.wait_for(hanging.asked.wait(), WAIT)
                run.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await run
                spans = store.spans(run_id)
    [node] = [s for s in spans if s.kind == "node"]
    [served] = [s for s in spans if s.attributes.get("weft.side") == "agent"]
    [llm] = [s for s in spans if s.kind == "llm"]
    assert node.status == served.status == llm.status == "cancelled"
    assert served.parent_id == node.span_id and served.agent == host.agent_id
    assert llm.parent_id == served.span_id and llm.name == "chat gpt-test"
    assert served.attributes["error"]["type"] == "Cancelled"
    assert node.start <= served.start <= llm.start < llm.end <= served.end <= node.end
    assert llm.attributes["input"][-1] == {"role": "user", "content": "Write about otters"}
