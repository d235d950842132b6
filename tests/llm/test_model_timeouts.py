"""A model request that times out says how long it waited and how to wait longer.

A slow local model (a small one on a busy CPU, a planner's long prompt) is the
usual cause, not a server that is down; the ``openai`` client says only
``Request timed out.``. The real client against a local server that never answers.
"""

from __future__ import annotations

import pytest

from weft import RetryPolicy, Workflow
from weft.agents import LLMAgent
from weft.protocols import NodeState
from weft.runtime import run_workflow
from weft.testing import HangingModel, OpenAIServer


async def test_a_timed_out_request_names_its_limit_and_the_setting_that_raises_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEFT_MODEL_TIMEOUT", "0.2")
    async with OpenAIServer(HangingModel()) as server:
        base_url = server.base_url
        agent = LLMAgent(
            "writer", base_url=server.base_url, model="slow", retry=RetryPolicy(max_attempts=1)
        )
        workflow = Workflow("one")
        workflow.node("draft", agent, with_={"task": "write"})
        result = await run_workflow(workflow, record=False)
    outcome = result.nodes["draft"]
    assert outcome.state is NodeState.FAILED and outcome.error is not None
    assert outcome.error.type == "APITimeoutError"
    message = outcome.error.message
    assert f"slow at {base_url}: Request timed out." in message
    assert "no answer within 0.2 s" in message and "WEFT_MODEL_TIMEOUT=SECONDS" in message
