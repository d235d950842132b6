"""An agent with a session, offered as a tool: the calling model never invents its conversation.

The caller's conversation flows on as ``<caller's id>/<agent>``; without one
the agent's store default is used; without that the caller's call scopes it,
so the tool calls of one call share a conversation and the next call starts
fresh. Scripted models: one endpoint answers both agents, told apart by their
instructions.
"""

from __future__ import annotations

from typing import Any

from weft import Workflow
from weft.agents import LLMAgent
from weft.agents.sessions import MemorySession
from weft.runtime import run_workflow
from weft.runtime.engine.executor import RunResult
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, Step, text, tool_call


def two_agents(questions: int = 1, made_up: bool = False) -> FunctionModel:
    """The manager asks the researcher ``questions`` times, then answers; the researcher
    answers each question with how many user messages it saw (its memory)."""

    def answer(request: ModelRequest) -> Step:
        if request.system.startswith("Research"):
            seen = sum(1 for m in request.messages if m["role"] == "user")
            return text(f"seen {seen}")
        asked = sum(1 for m in request.messages if m["role"] == "tool")
        if request.messages[-1]["role"] == "tool" and asked >= questions:
            return text("final")
        arguments: dict[str, Any] = {"task": f"question {asked + 1}"}
        if made_up:
            arguments["conversation_id"] = "invented-by-the-model"
        return tool_call("researcher", arguments)

    return FunctionModel(answer)


def agents(base_url: str, researcher_store: MemorySession, manager_store: Any = None) -> LLMAgent:
    researcher = LLMAgent(
        "researcher", base_url=base_url, instructions="Research.", session=researcher_store
    )
    return LLMAgent(
        "manager",
        base_url=base_url,
        instructions="Manage.",
        tools=[researcher],
        session=manager_store,
    )


async def ask(manager: LLMAgent, conversation_id: str | None = None) -> RunResult:
    arguments: dict[str, Any] = {"task": "find out"}
    if conversation_id is not None:
        arguments["conversation_id"] = conversation_id
    workflow = Workflow("delegate")
    workflow.node("manager", manager, with_=arguments)
    result: RunResult = await run_workflow(workflow, record=False)
    return result


def offered(model: FunctionModel) -> dict[str, Any]:
    """The researcher's parameters as the manager's model was shown them."""
    request = next(r for r in model.requests if r.system.startswith("Manage"))
    [tool] = request.body["tools"]
    parameters: dict[str, Any] = tool["function"]["parameters"]
    return parameters


async def test_the_model_is_not_shown_a_conversation_id_to_invent() -> None:
    model = two_agents()
    async with OpenAIServer(model) as server:
        result = await ask(agents(server.base_url, MemorySession()))
    assert result.outputs == {"manager": "final"}
    parameters = offered(model)
    assert "conversation_id" not in parameters["properties"]
    assert "conversation_id" not in parameters.get("required", [])


async def test_the_callers_conversation_flows_on_as_caller_slash_agent() -> None:
    model = two_agents()
    store = MemorySession()
    async with OpenAIServer(model) as server:
        manager = agents(server.base_url, store, manager_store=MemorySession())
        await ask(manager, "ada")
        await ask(manager, "ada")
        await ask(manager, "bob")
    assert len(await store.messages("ada/researcher")) == 4  # two turns of user + answer
    assert len(await store.messages("bob/researcher")) == 2
    # the second call on "ada" reached the researcher with the first call's turn
    researcher = [r for r in model.requests if r.system.startswith("Research")]
    assert [sum(m["role"] == "user" for m in r.messages) for r in researcher] == [1, 2, 1]


async def test_without_a_caller_conversation_one_call_shares_one_fresh_conversation() -> None:
    model = two_agents(questions=2)
    store = MemorySession()
    async with OpenAIServer(model) as server:
        manager = agents(server.base_url, store)
        await ask(manager)
        await ask(manager)
    researcher = [r for r in model.requests if r.system.startswith("Research")]
    # the second question of a call sees the first; the next call starts afresh
    assert [sum(m["role"] == "user" for m in r.messages) for r in researcher] == [1, 2, 1, 2]


async def test_the_agents_own_default_conversation_is_used_and_an_invented_one_ignored() -> None:
    model = two_agents(made_up=True)
    store = MemorySession(conversation_id="library")
    async with OpenAIServer(model) as server:
        manager = agents(server.base_url, store)
        await ask(manager)
        await ask(manager)
    assert len(await store.messages("library")) == 4
    assert await store.messages("invented-by-the-model") == []
