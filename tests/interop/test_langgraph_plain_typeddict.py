"""A graph whose state is a ``typing.TypedDict`` is an action on Python 3.11 too.

pydantic cannot build a schema from ``typing.TypedDict`` before Python 3.12,
so LangGraph's own ``get_input_jsonschema`` and ``input_schema`` raise; weft
then describes the state by its key names. This is the graph a user writes
first (docs/interop.md), and it was an import-time traceback. weft builds the
schema from the state's type hints instead, and checks the input of either kind
of ``TypedDict`` at the call, which LangGraph does not.
"""

from __future__ import annotations

from typing import Annotated, TypedDict

import pytest
import typing_extensions
from langchain_core.messages import AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

import weft
from weft.protocols import ActionCall
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.engine.execution_context import UNUSED_CONTEXT


class JokeState(TypedDict, total=False):
    topic: str
    joke: str


def tell(state: JokeState) -> JokeState:
    return {"joke": f"Why did the {state['topic']} cross the road?"}


def jokes_graph() -> object:
    builder = StateGraph(JokeState)
    builder.add_node("tell", tell)
    builder.add_edge(START, "tell")
    builder.add_edge("tell", END)
    return builder.compile(name="jokes")


def test_the_state_keys_are_the_schema_when_pydantic_cannot_build_one() -> None:
    action = weft.from_langgraph(jokes_graph())
    assert action.spec.name == "jokes"
    assert set(action.spec.input_schema["properties"]) == {"topic", "joke"}
    assert "required" not in action.spec.input_schema


def test_the_graph_runs_as_a_node_and_is_a_tool_of_an_agent() -> None:
    graph = jokes_graph()
    wf = weft.Workflow("with-a-graph")
    wf.input("topic", type="string")
    wf.node("jokes", graph, with_={"topic": "${inputs.topic}"})
    result = weft.run_sync(wf, {"topic": "cats"}, record=False)
    assert result.outputs["jokes"] == {"topic": "cats", "joke": "Why did the cats cross the road?"}
    agent = weft.LLMAgent("host", instructions="Tell jokes.", tools=[graph])
    assert agent.tools == ["jokes"] and [a.spec.name for a in agent.bundled_actions] == ["jokes"]


class CountState(TypedDict):
    count: int
    label: str


class CountStateExt(typing_extensions.TypedDict):
    count: int
    label: str


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def counter_graph(state: type, seen: list[object] | None = None) -> object:
    def double(s: dict[str, object]) -> dict[str, object]:
        if seen is not None:
            seen.append(s["count"])
        return {"count": s["count"] * 2}  # type: ignore[operator]

    builder = StateGraph(state)
    builder.add_node("double", double)
    builder.add_edge(START, "double")
    builder.add_edge("double", END)
    return builder.compile(name="counter")


def test_a_typing_typeddict_state_is_typed_as_a_typing_extensions_one_is() -> None:
    plain = weft.from_langgraph(counter_graph(CountState)).spec
    ext = weft.from_langgraph(counter_graph(CountStateExt)).spec
    assert plain.input_schema["properties"]["count"]["type"] == "integer"
    assert (plain.input_schema, plain.output_schema) == (ext.input_schema, ext.output_schema)


def test_a_literal_of_the_wrong_type_is_refused_when_compiled_naming_the_field() -> None:
    wf = weft.Workflow("literal")
    wf.node("count", counter_graph(CountState), with_={"count": "many", "label": "x"})
    with pytest.raises(weft.DefinitionError, match=r"argument 'count' of action 'counter'"):
        compile_workflow(wf)


@pytest.mark.parametrize("state", [CountState, CountStateExt], ids=["typing", "typing_extensions"])
def test_a_wrong_type_at_the_call_fails_before_the_graph_naming_the_field(state: type) -> None:
    seen: list[object] = []
    wf = weft.Workflow("given")
    wf.input("n")
    wf.node("count", counter_graph(state, seen), with_={"count": "${inputs.n}", "label": "x"})
    result = weft.run_sync(wf, {"n": "many"}, record=False)
    error = result.nodes["count"].error
    assert error is not None and error.type == "ValidationError" and error.field == "count"
    assert error.message.startswith("counter: argument 'count': Input should be a valid integer")
    assert seen == []  # the graph never ran


def test_a_value_is_converted_as_a_tools_argument_is() -> None:
    seen: list[object] = []
    wf = weft.Workflow("converted")
    wf.input("n")
    wf.node("count", counter_graph(CountState, seen), with_={"count": "${inputs.n}", "label": "x"})
    result = weft.run_sync(wf, {"n": "3"}, record=False)
    assert seen == [3] and result.outputs["count"] == {"count": 6, "label": "x"}


async def test_a_key_with_a_reducer_is_left_to_langgraph() -> None:
    def reply(state: ChatState) -> ChatState:
        return {"messages": [("ai", f"{len(state['messages'])} so far")]}

    builder = StateGraph(ChatState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    action = weft.from_langgraph(builder.compile(name="chat"))
    arguments = {"messages": [{"role": "user", "content": "hi"}], "turns": "2"}
    result = await action.invoke(ActionCall(action="chat", arguments=arguments), UNUSED_CONTEXT)
    assert result.state.value == "ok", result.error
    assert result.output["turns"] == 2
    assert [m["content"] for m in result.output["messages"]] == ["hi", "1 so far"]
