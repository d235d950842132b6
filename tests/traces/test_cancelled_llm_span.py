"""A run cancelled while an LLM request is in flight keeps that request in its trace.

Found in a real-use trial: Ctrl-C during ``weft run`` (or ``weft ask``) while an
agent waited on its model left a trace with the run and node spans, cancelled,
and no ``llm`` span: the request the run was waiting on, and for how long, was
not to be seen. The span is now recorded ``cancelled`` with its duration.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from weft import Workflow
from weft.agents import LLMAgent
from weft.runtime import run_workflow
from weft.runtime.tracing.store import TraceStore
from weft.testing import HangingModel, OpenAIServer

RUN_ID = "c" * 32


@pytest.mark.usefixtures("no_model_settings")
async def test_an_llm_request_in_flight_when_the_run_is_cancelled_is_a_cancelled_span(
    tmp_path: Path,
) -> None:
    hanging = HangingModel()
    async with OpenAIServer(hanging) as server:
        agent = LLMAgent("writer", model="gpt-test", base_url=server.base_url, api_key="k")
        wf = Workflow("write")
        wf.node("write", agent, with_={"task": "Write about otters"})
        with TraceStore(tmp_path / "traces.db") as store:
            run = asyncio.create_task(run_workflow(wf, tracer=store, run_id=RUN_ID))
            await asyncio.wait_for(hanging.asked.wait(), timeout=10)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
            spans = store.spans(RUN_ID)
    [llm] = [s for s in spans if s.kind == "llm"]
    [node] = [s for s in spans if s.kind == "node"]
    assert llm.status == "cancelled" and node.status == "cancelled"
    assert llm.parent_id == node.span_id and llm.name == "chat gpt-test"
    assert node.start <= llm.start < llm.end <= node.end
    assert llm.attributes["llm.attempts"] == 1
    assert llm.attributes["input"][-1] == {"role": "user", "content": "Write about otters"}
