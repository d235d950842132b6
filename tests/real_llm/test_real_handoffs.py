"""Handoffs and sessions against the real server: the mechanics, not the model's wisdom.

The tiny model is made to transfer with ``tool_choice`` (a grammar-constrained
call of ``transfer_to_billing``); what is checked is that the conversation went
on in billing, that billing answered, and that the session kept the turn.
"""

from __future__ import annotations

from weft import Workflow
from weft.agents import LLMAgent
from weft.agents.sessions import MemorySession
from weft.protocols import NodeState
from weft.runtime import run_workflow
from weft.runtime.tracing.spans import MemoryTracer

from .conftest import MODEL


async def test_a_forced_transfer_hands_the_conversation_to_billing_which_answers(
    real_llm: str,
) -> None:
    billing = LLMAgent(
        "billing",
        base_url=real_llm,
        model=MODEL,
        temperature=0,
        max_tokens=40,
        instructions="You answer billing questions in one sentence.",
        description="Answers questions about invoices and payments.",
    )
    store = MemorySession(conversation_id="ada")
    triage = LLMAgent(
        "triage",
        base_url=real_llm,
        model=MODEL,
        temperature=0,
        max_tokens=60,
        instructions="Hand billing questions to billing.",
        handoffs=[billing],
        tool_choice="transfer_to_billing",
        session=store,
    )
    workflow = Workflow("real-handoff")
    workflow.node("agent", triage, with_={"task": "Why was I charged twice?"})
    tracer = MemoryTracer()
    result = await run_workflow(workflow, record=False, tracer=tracer)
    outcome = result.nodes["agent"]
    assert outcome.state is NodeState.SUCCEEDED, outcome.error
    assert outcome.agent == "billing"
    assert isinstance(outcome.output, str) and outcome.output.strip()
    assert result.usage.llm_calls == 2  # triage's forced transfer, billing's answer
    (span,) = tracer.by_kind("handoff")
    assert (span.attributes["weft.handoff.from"], span.attributes["weft.handoff.to"]) == (
        "triage",
        "billing",
    )
    kept = await store.messages("ada")
    assert [m["role"] for m in kept] == ["user", "assistant", "tool", "assistant"]
    assert kept[1]["tool_calls"][0]["function"]["name"] == "transfer_to_billing"
