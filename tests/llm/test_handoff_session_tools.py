"""A handoff chain's conversation reaches every agent's session sub-agents.

The first agent's conversation (its ``conversation_id`` argument, or its
store's default) is the call's: an agent handed to offers its own session
agents on ``<id>/<agent>`` exactly as the first agent would, whatever its
own store says, and a question asked after the handoff resumes there on the
same conversation. Scripted models: one endpoint answers every agent, told
apart by their instructions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from weft import ActionContext, RunState, Workflow, tool
from weft.agents import LLMAgent
from weft.agents.sessions import MemorySession
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine.executor import RunResult
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, Step, text, tool_call


def users_seen(request: ModelRequest) -> int:
    return sum(1 for m in request.messages if m["role"] == "user")


def tool_replies(request: ModelRequest) -> list[dict[str, Any]]:
    """The tool replies of this call's turn (after its last user message)."""
    last_user = max(i for i, m in enumerate(request.messages) if m["role"] == "user")
    return [m for m in request.messages[last_user:] if m["role"] == "tool"]


def support_model(extra_tool: str | None = None) -> FunctionModel:
    """Triage hands every call to the desk; the desk asks the researcher (then calls
    ``extra_tool``, if any) and answers with what the researcher said; the researcher
    answers with how many user messages it saw (its memory)."""

    def answer(request: ModelRequest) -> Step:
        if request.system.startswith("Research"):
            return text(f"seen {users_seen(request)}")
        replies = tool_replies(request)
        if request.system.startswith("Triage"):
            return tool_call("transfer_to_desk", {"reason": "the desk knows"})
        called = len(replies) - 1  # the transfer's reply comes first
        if called == 0:
            return tool_call("researcher", {"task": "look it up"})
        if extra_tool is not None and called == 1:
            return tool_call(extra_tool, {"order": "A1"})
        return text(f"desk: {replies[1]['content']}")

    return FunctionModel(answer)


def chain(
    base_url: str,
    researcher_store: MemorySession,
    *,
    triage_store: MemorySession | None = None,
    desk_store: MemorySession | None = None,
    desk_tools: tuple[Any, ...] = (),
) -> LLMAgent:
    researcher = LLMAgent(
        "researcher", base_url=base_url, instructions="Research.", session=researcher_store
    )
    desk = LLMAgent(
        "desk",
        base_url=base_url,
        instructions="Desk.",
        description="Answers with research.",
        tools=[researcher, *desk_tools],
        session=desk_store,
    )
    return LLMAgent(
        "triage",
        base_url=base_url,
        instructions="Triage.",
        handoffs=[desk],
        session=triage_store if triage_store is not None else MemorySession(conversation_id="ada"),
    )


def one_node(triage: LLMAgent, conversation_id: str | None = None) -> Workflow:
    arguments: dict[str, Any] = {"task": "what do you know?"}
    if conversation_id is not None:
        arguments["conversation_id"] = conversation_id
    workflow = Workflow("support")
    workflow.node("agent", triage, with_=arguments)
    return workflow


async def ask(triage: LLMAgent, conversation_id: str | None = None) -> RunResult:
    result: RunResult = await run_workflow(one_node(triage, conversation_id), record=False)
    return result


@pytest.mark.parametrize("store_default", [None, "library"])
async def test_after_a_handoff_a_session_tool_goes_on_the_default_conversation(
    store_default: str | None,
) -> None:
    model = support_model()
    researcher_store = MemorySession(conversation_id=store_default)
    async with OpenAIServer(model) as server:
        triage = chain(server.base_url, researcher_store)
        first = await ask(triage)
        second = await ask(triage)
    assert first.outputs == {"agent": "desk: seen 1"}
    # the second call in conversation "ada" reached a researcher that remembers the first
    assert second.outputs == {"agent": "desk: seen 2"}
    assert len(await researcher_store.messages("ada/researcher")) == 4
    assert await researcher_store.messages("library") == []  # not shared by every user


async def test_after_a_handoff_each_conversation_has_its_own_sub_agent_conversation() -> None:
    model = support_model()
    researcher_store = MemorySession(conversation_id="library")
    async with OpenAIServer(model) as server:
        triage = chain(server.base_url, researcher_store, triage_store=MemorySession())
        await ask(triage, "ada")
        await ask(triage, "bob")
        ada_again = await ask(triage, "ada")
    assert ada_again.outputs == {"agent": "desk: seen 2"}
    assert len(await researcher_store.messages("ada/researcher")) == 4
    assert len(await researcher_store.messages("bob/researcher")) == 2
    assert await researcher_store.messages("library") == []  # the store default: not used


async def test_an_agent_handed_to_goes_on_the_first_agents_conversation_not_its_own() -> None:
    model = support_model()
    researcher_store, desk_store = MemorySession(), MemorySession(conversation_id="desk-default")
    async with OpenAIServer(model) as server:
        triage = chain(server.base_url, researcher_store, desk_store=desk_store)
        await ask(triage)
        second = await ask(triage)
    assert second.outputs == {"agent": "desk: seen 2"}
    assert len(await researcher_store.messages("ada/researcher")) == 4
    assert await researcher_store.messages("desk-default/researcher") == []
    assert await desk_store.messages("desk-default") == []  # the turns are triage's
    assert await desk_store.messages("ada") == []


async def test_a_question_after_a_handoff_resumes_on_the_same_conversation(
    tmp_path: Path,
) -> None:
    refunded: list[str] = []

    @tool
    def refund(order: str, ctx: ActionContext) -> str:
        """Refund an order, once approved."""
        if ctx.ask(f"Refund order {order}?", choices=["yes", "no"]) != "yes":
            return "declined"
        refunded.append(order)
        return f"refunded {order}"

    model = support_model(extra_tool="refund")
    researcher_store, triage_store = MemorySession(), MemorySession(conversation_id="ada")
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        triage = chain(
            server.base_url, researcher_store, triage_store=triage_store, desk_tools=(refund,)
        )
        workflow = one_node(triage)
        first = await run_workflow(workflow, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        done = await resume_run(
            first.run_id,
            journal=journal,
            definition=workflow,
            answers={"agent": "yes"},
            tracer=False,
        )
        assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
        assert done.outputs == {"agent": "desk: seen 1"}
        assert done.nodes["agent"].agent == "desk"
        again = await run_workflow(workflow, journal=journal, tracer=False)
    assert refunded == ["A1"]
    assert len(await triage_store.messages("ada")) > 0  # the resumed turn was kept
    # the run after the resume: the researcher of conversation "ada" remembers
    assert again.state is RunState.NEEDS_INPUT  # the desk asks to refund again
    researcher = [r for r in model.requests if r.system.startswith("Research")]
    assert [users_seen(r) for r in researcher] == [1, 2]
    assert len(await researcher_store.messages("ada/researcher")) == 4
