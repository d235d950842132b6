"""A compiled LangGraph graph is a weft action: a node, an agent's tool, a served agent."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.interop.langgraph_graphs import map_reduce, react_agent
from weft import ActionCall, ActionState, Workflow, from_langgraph, run_workflow
from weft.agents import LLMAgent
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.engine.compiler import as_action
from weft.runtime.engine.execution_context import UNUSED_CONTEXT
from weft.runtime.remote.agent_host import AgentHost, hosted
from weft.runtime.remote.remote_action import RemoteAction
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call

WAIT = 10.0


def test_the_schema_comes_from_the_state_and_no_input_key_is_required() -> None:
    spec = from_langgraph(map_reduce()).spec
    assert spec.name == "jokes"
    assert set(spec.input_schema["properties"]) == {
        "topic",
        "subjects",
        "jokes",
        "best_selected_joke",
    }
    assert "required" not in spec.input_schema  # LangGraph requires none either
    assert spec.output_schema["properties"]["best_selected_joke"]["type"] == "string"


async def test_a_react_agent_graph_runs_as_a_workflow_node_given_as_the_graph_itself() -> None:
    wf = Workflow("ask")
    wf.node("calc", react_agent(), with_={"messages": [{"role": "user", "content": "6*7?"}]})
    result = await run_workflow(wf, record=False)
    assert result.ok, result.error
    messages = result.outputs["calc"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[2]["content"] == "42"
    assert messages[-1]["content"] == "6 times 7 is 42."


async def test_a_map_reduce_graph_with_send_runs_as_a_workflow_node() -> None:
    wf = Workflow("jokes-flow")
    wf.input("topic", type="string")
    wf.node("jokes", from_langgraph(map_reduce()), with_={"topic": "${inputs.topic}"})
    result = await run_workflow(wf, {"topic": "funny"}, record=False)
    assert result.ok, result.error
    out = result.outputs["jokes"]
    assert sorted(out["jokes"]) == [
        "a joke about funny birds",
        "a joke about funny cats",
        "a joke about funny dogs",
    ]
    assert out["best_selected_joke"] == "a joke about funny birds"


async def test_a_graph_that_raises_is_an_error_result_naming_it() -> None:
    action = as_action(map_reduce(), name="jokes")
    result = await action.invoke(ActionCall(action="jokes", arguments={}), UNUSED_CONTEXT)
    assert result.state is ActionState.ERROR
    assert result.error is not None and result.error.message.startswith("jokes: ")


async def test_a_call_past_its_deadline_is_a_timeout_result() -> None:
    action = from_langgraph(map_reduce())
    call = ActionCall(action="jokes", arguments={"topic": "x"}, deadline=1.0)
    result = await action.invoke(call, UNUSED_CONTEXT)
    assert result.state is ActionState.TIMEOUT


async def test_an_llm_agent_calls_a_graph_as_a_tool() -> None:
    model = ScriptedModel([tool_call("jokes", {"topic": "odd"}), text("Done.")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "host",
            instructions="Tell jokes with the jokes tool.",
            model="gpt-test",
            base_url=server.base_url,
            tools=[map_reduce()],
        )
        wf = Workflow("agent-with-graph")
        wf.node("ask", agent, with_={"task": "Jokes about odd things."})
        result = await run_workflow(wf, record=False)
    assert result.ok, result.error
    tool_results = model.requests[-1].tool_results()
    assert "a joke about odd birds" in str(tool_results)
    model.assert_complete()


async def test_a_graph_is_served_by_an_agent_host_and_called_over_the_bus() -> None:
    registry = hosted([react_agent()])
    spec = registry.get("calculator").spec
    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_bus,
        InProcessBus(broker) as caller_bus,
        AgentHost(agent_bus, registry),
    ):
        remote = RemoteAction(caller_bus, spec, pool="calculator")
        arguments: dict[str, Any] = {"messages": [{"role": "user", "content": "6*7?"}]}
        result = await asyncio.wait_for(
            remote.invoke(ActionCall(action="calculator", arguments=arguments)), WAIT
        )
    assert result.ok, result.error
    assert result.output["messages"][-1]["content"] == "6 times 7 is 42."
