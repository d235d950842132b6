"""An LLM agent served by an agent host, whose tool asks, resumes where it stopped.

Its saved conversation (``ActionResult.resume_state``) crosses the broker with
the ``needs_input`` result, is journaled by the caller's run, and crosses it
again on the resumed ``ActionCall``: the host's agent then makes only the
tool call that asked. Real Mosquitto, real ``openai`` client, scripted server.
"""

from __future__ import annotations

from pathlib import Path

from distributed_support import WAIT, fast_bus

from weft import ActionContext, RunState, Workflow, tool
from weft.agents import LLMAgent
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls


async def test_a_served_llm_agent_resumes_from_the_state_it_sent_back(
    broker_url: str, ns: str, caller: LiveRegistry, tmp_path: Path
) -> None:
    made: list[str] = []

    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:
        """Refund an order; a person approves refunds over 100."""
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?") != "yes":
            return f"refund of {order} declined"
        made.append(order)
        return f"refunded {order}"

    model = ScriptedModel(
        [
            tool_calls(
                ("refund", {"order": "A1", "amount": 50}),
                ("refund", {"order": "B2", "amount": 500}),
            ),
            text("Refunded A1 and B2."),
        ]
    )
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("support", model="m", base_url=server.base_url, tools=[refund])
        async with (
            fast_bus(broker_url, ns) as host_bus,
            AgentHost(host_bus, [agent, refund], heartbeat_interval=0.5),
        ):
            await caller.wait_for(["support"], WAIT)
            wf = Workflow("support")
            wf.node("agent", caller.remote("support"), with_={"task": "Refund A1 and B2."})
            first = await run_workflow(wf, journal=journal, tracer=False)
            assert first.state is RunState.NEEDS_INPUT
            assert journal.resume_states(first.run_id)["agent"]["agent"] == "support"
            done = await resume_run(
                first.run_id,
                journal=journal,
                definition=wf,
                answers={"agent": "yes"},
                tracer=False,
            )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert done.outputs == {"agent": "Refunded A1 and B2."}
    assert made == ["A1", "B2"]
    assert len(model.requests) == 2
