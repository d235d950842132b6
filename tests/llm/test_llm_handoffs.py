"""LLMAgent handoffs: the model transfers the conversation to another agent, which answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from weft import ActionContext, RunState, Workflow, tool
from weft.agents import LLMAgent
from weft.protocols import NodeState
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine.executor import RunResult
from weft.runtime.tracing.spans import MemoryTracer
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call, tool_calls


class Answer(BaseModel):
    reply: str
    refunded: bool


def one_node(agent: LLMAgent, task: str = "Please refund order A1.") -> Workflow:
    wf = Workflow("support")
    wf.node("agent", agent, with_={"task": task})
    return wf


async def run(agent: LLMAgent, **kwargs: Any) -> RunResult:
    result: RunResult = await run_workflow(one_node(agent), record=False, **kwargs)
    return result


def agents(base_url: str, **triage: Any) -> tuple[LLMAgent, LLMAgent]:
    refunds = LLMAgent(
        "refunds",
        base_url=base_url,
        instructions="You handle refunds.",
        description="Refunds orders.",
    )
    return (
        LLMAgent(
            "triage",
            base_url=base_url,
            instructions="Route the customer.",
            handoffs=[refunds],
            **triage,
        ),
        refunds,
    )


async def test_a_transfer_goes_on_in_the_target_with_the_conversation_and_its_instructions() -> (
    None
):
    model = ScriptedModel(
        [tool_call("transfer_to_refunds", {"reason": "a refund"}), text("Order A1 is refunded.")]
    )
    async with OpenAIServer(model) as server:
        triage, _ = agents(server.base_url)
        result = await run(triage)
    assert result.outputs == {"agent": "Order A1 is refunded."}
    assert result.nodes["agent"].agent == "refunds"
    first, second = model.requests
    transfer = next(t for t in first.tools if t["function"]["name"] == "transfer_to_refunds")
    assert "Refunds orders." in transfer["function"]["description"]
    assert set(transfer["function"]["parameters"]["properties"]) == {"reason"}
    assert second.system == "You handle refunds."
    assert "Route the customer." not in json.dumps(second.messages)
    assert second.messages[1] == {"role": "user", "content": "Please refund order A1."}
    assert second.messages[2]["tool_calls"][0]["function"]["name"] == "transfer_to_refunds"
    assert json.loads(second.messages[3]["content"]) == {"transferred_to": "refunds"}
    assert result.usage.llm_calls == 2  # both agents' requests, counted once each
    model.assert_complete()


async def test_the_last_agents_output_type_makes_the_answer() -> None:
    model = ScriptedModel(
        [
            tool_call("transfer_to_refunds", {}),
            text(json.dumps({"reply": "Done.", "refunded": True})),
        ]
    )
    async with OpenAIServer(model) as server:
        refunds = LLMAgent("refunds", base_url=server.base_url, output_type=Answer)
        triage = LLMAgent("triage", base_url=server.base_url, handoffs=[refunds])
        result = await run(triage)
    assert result.outputs == {"agent": {"reply": "Done.", "refunded": True}}


async def test_each_handoff_is_a_span_naming_from_to_and_reason() -> None:
    model = ScriptedModel([tool_call("transfer_to_refunds", {"reason": "money back"}), text("ok")])
    tracer = MemoryTracer()
    async with OpenAIServer(model) as server:
        triage, _ = agents(server.base_url)
        await run(triage, tracer=tracer)
    (span,) = tracer.by_kind("handoff")
    assert span.name == "handoff triage -> refunds"
    assert span.attributes["weft.handoff.from"] == "triage"
    assert span.attributes["weft.handoff.to"] == "refunds"
    assert span.attributes["weft.handoff.reason"] == "money back"


async def test_a_chain_past_max_handoffs_fails_naming_the_chain() -> None:
    model = ScriptedModel(
        [
            tool_call("transfer_to_b", {}),
            tool_call("transfer_to_a", {}),
            tool_call("transfer_to_b", {}),
        ]
    )
    async with OpenAIServer(model) as server:
        a = LLMAgent("a", base_url=server.base_url, handoffs=["b"], max_handoffs=2)
        b = LLMAgent("b", base_url=server.base_url, handoffs=[a])
        a.bind_handoffs({"b": b}.get)
        result = await run(a)
    error = result.nodes["agent"].error
    assert error is not None and error.type == "MaxHandoffsExceeded"
    assert error.message == "a: more than max_handoffs=2 handoff(s): a -> b -> a -> b"
    model.assert_complete()


async def test_other_tool_calls_of_the_transferring_turn_are_not_made() -> None:
    made: list[str] = []

    @tool
    def lookup(order: str) -> str:
        """Look an order up."""
        made.append(order)
        return "found"

    model = ScriptedModel(
        [
            tool_calls(("lookup", {"order": "A1"}), ("transfer_to_refunds", {})),
            text("Refunded."),
        ]
    )
    async with OpenAIServer(model) as server:
        triage, _ = agents(server.base_url, tools=[lookup])
        result = await run(triage)
    assert result.outputs == {"agent": "Refunded."}
    assert made == []
    replies = [m for m in model.requests[1].messages if m["role"] == "tool"]
    assert "not made" in replies[0]["content"]
    assert json.loads(replies[1]["content"]) == {"transferred_to": "refunds"}


async def test_an_action_that_is_no_agent_answers_with_the_callers_task() -> None:
    @tool
    def human_desk(task: str) -> str:
        """A person takes the request."""
        return f"ticket opened: {task}"

    model = ScriptedModel([tool_call("transfer_to_human_desk", {"reason": "angry"})])
    async with OpenAIServer(model) as server:
        triage = LLMAgent("triage", base_url=server.base_url, handoffs=[human_desk])
        result = await run(triage)
    assert result.outputs == {"agent": "ticket opened: Please refund order A1."}
    assert result.nodes["agent"].agent == "human_desk"


async def test_an_action_with_its_own_parameters_gets_the_models_arguments() -> None:
    @tool
    def refund(order_id: str) -> str:
        """Refund an order."""
        return f"refunded {order_id}"

    model = ScriptedModel([tool_call("transfer_to_refund", {"order_id": "A7"})])
    async with OpenAIServer(model) as server:
        triage = LLMAgent("triage", base_url=server.base_url, handoffs=[refund])
        result = await run(triage)
        offered = model.requests[0].tools[0]["function"]["parameters"]
    assert set(offered["properties"]) == {"order_id"}
    assert result.outputs == {"agent": "refunded A7"}


async def test_a_question_in_the_handed_to_agent_resumes_there(tmp_path: Path) -> None:
    refunded: list[str] = []

    @tool
    def refund(order: str, ctx: ActionContext) -> str:
        """Refund an order, once approved."""
        if ctx.ask(f"Refund order {order}?", choices=["yes", "no"]) != "yes":
            return "declined"
        refunded.append(order)
        return f"refunded {order}"

    model = ScriptedModel(
        [
            tool_call("transfer_to_refunds", {}),
            tool_call("refund", {"order": "A1"}),
            text("Order A1 is refunded."),
        ]
    )
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        refunds = LLMAgent(
            "refunds", base_url=server.base_url, instructions="Refunds.", tools=[refund]
        )
        triage = LLMAgent(
            "triage", base_url=server.base_url, instructions="Triage.", handoffs=[refunds]
        )
        wf = one_node(triage)
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        assert first.nodes["agent"].error is not None
        assert first.nodes["agent"].error.message == "refunds: tool 'refund' asks: Refund order A1?"
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert done.outputs == {"agent": "Order A1 is refunded."}
    assert done.nodes["agent"].agent == "refunds"
    assert refunded == ["A1"]
    assert model.requests[2].system == "Refunds."  # resumed in refunds, triage not asked again
    model.assert_complete()


async def test_a_question_in_an_action_handed_to_resumes_it_answered(tmp_path: Path) -> None:
    @tool
    def approve(task: str, ctx: ActionContext) -> str:
        """A person approves the request."""
        return f"{task}: {ctx.ask('Approve?', choices=['yes', 'no'])}"

    model = ScriptedModel([tool_call("transfer_to_approve", {})])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        triage = LLMAgent("triage", base_url=server.base_url, handoffs=[approve])
        wf = one_node(triage, "Close my account")
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.nodes["agent"].state is NodeState.NEEDS_INPUT
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.outputs == {"agent": "Close my account: yes"}
    assert len(model.requests) == 1
    model.assert_complete()


def test_a_handoff_that_is_no_action_is_refused_when_the_agent_is_made() -> None:
    with pytest.raises(TypeError, match="handoffs: 42 is neither an action"):
        LLMAgent("triage", handoffs=[42])


async def test_a_handoff_by_name_is_bound_to_the_runs_agent_of_that_name() -> None:
    model = ScriptedModel([tool_call("transfer_to_refunds", {}), text("Refunded.")])
    async with OpenAIServer(model) as server:
        refunds = LLMAgent("refunds", base_url=server.base_url, instructions="Refunds.")
        triage = LLMAgent("triage", base_url=server.base_url, handoffs=["refunds"])
        result = await run(triage, actions=[refunds])
    assert result.outputs == {"agent": "Refunded."}
    assert result.nodes["agent"].agent == "refunds"
    assert model.requests[1].system == "Refunds."  # the conversation went on in refunds


async def test_a_resume_whose_chain_is_gone_starts_again_from_the_first_agent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @tool
    def refund(order: str, ctx: ActionContext) -> str:
        """Refund an order, once approved."""
        return f"refunded {order}" if ctx.ask("Refund?", choices=["yes", "no"]) == "yes" else "no"

    model = ScriptedModel(
        [tool_call("transfer_to_refunds", {}), tool_call("refund", {"order": "A1"})]
    )
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        refunds = LLMAgent("refunds", base_url=server.base_url, tools=[refund])
        triage = LLMAgent("triage", base_url=server.base_url, handoffs=[refunds])
        first = await run_workflow(one_node(triage), journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        alone = LLMAgent("triage", base_url=server.base_url, tools=[refund])  # no handoffs now
        model.add(text("Started again."))
        with caplog.at_level("WARNING", logger="weft.agents.llm"):
            done = await resume_run(
                first.run_id,
                journal=journal,
                definition=one_node(alone),
                answers={"agent": "yes"},
                tracer=False,
            )
    assert done.outputs == {"agent": "Started again."}
    assert any("triage -> refunds" in r.getMessage() for r in caplog.records)


async def test_each_model_request_of_a_chain_names_the_agent_that_made_it() -> None:
    """One call is one span whatever the chain: without the agent on each ``llm`` span
    ``weft trace show`` could not say whether triage or refunds made a request, and drew
    the handoff as if a remote agent ``@triage`` had served it."""
    from weft.cli._trace_show import ShowTree

    model = ScriptedModel([tool_call("transfer_to_refunds", {}), text("Refunded.")])
    tracer = MemoryTracer()
    async with OpenAIServer(model) as server:
        triage, _ = agents(server.base_url)
        await run(triage, tracer=tracer)
    assert [s.agent for s in tracer.by_kind("llm")] == ["triage", "refunds"]
    shown = ShowTree(list(tracer.spans), depth=None, full=False)
    lines = [shown.label(s).plain for s in tracer.spans if s.kind in ("llm", "handoff")]
    assert all("@" not in line and "local agent" not in line for line in lines), lines
    assert [line.rsplit("  ", 1)[-1] for line in lines] == ["by triage", "ok", "by refunds"]


async def test_a_tool_choice_naming_no_tool_offered_fails_naming_close_ones() -> None:
    """``tool_choice="transfer_to_refund"`` was sent as it was: the server failed the
    request or ignored it, and the agent never handed off, far from the typo."""
    model = ScriptedModel([])
    async with OpenAIServer(model) as server:
        triage, _ = agents(server.base_url, tool_choice="transfer_to_refund")
        result = await run(triage)
    error = result.nodes["agent"].error
    assert error is not None and error.type == "ToolNotAvailable"
    assert error.message == (
        "triage: tool_choice 'transfer_to_refund' is no tool offered to the model "
        "(did you mean 'transfer_to_refunds'? tools: transfer_to_refunds)"
    )
    assert model.requests == []


HANDOFF_WORKFLOW = """
import weft
from weft.agents import LLMAgent

refunds = LLMAgent("refunds", model="m", description="Refunds.")
triage = LLMAgent("triage", model="m", handoffs=[refunds])
workflow = weft.Workflow("support")
workflow.node("answer", triage, with_={"task": "Refund A1"})
"""


def test_streamed_text_marks_where_the_next_agent_goes_on(tmp_path: Path) -> None:
    """``weft run --stream`` printed ``Let me pass you on.Refund done.``: two agents'
    words run together under one node, as if one agent had said both."""
    import uuid

    from click.testing import CliRunner

    from weft.cli import cli
    from weft.cli._stream_display import LineText

    path = tmp_path / f"support_{uuid.uuid4().hex[:8]}.py"
    path.write_text(HANDOFF_WORKFLOW)
    model = ScriptedModel(
        [tool_calls(("transfer_to_refunds", {}), content="Let me pass you on."), text("Done.")]
    )
    with OpenAIServer(model) as server:
        env = {"WEFT_HOME": str(tmp_path), "OPENAI_BASE_URL": server.base_url}
        out = CliRunner().invoke(cli, ["run", str(path), "--stream"], env=env).output
    assert out.startswith("[answer]\nLet me pass you on.\n[answer → refunds]\nDone.\n"), out

    printed: list[tuple[str, bool]] = []
    lines = LineText(lambda line, header: printed.append((line, header)))
    lines.add("answer", "Let me pass")
    lines.handoff("answer", "refunds")
    lines.add("answer", "Done.\n")
    assert printed == [
        ("── answer ──", True),
        ("Let me pass", False),
        ("── answer → refunds ──", True),
        ("Done.", False),
    ]
