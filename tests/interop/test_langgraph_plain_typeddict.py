"""A graph whose state is a ``typing.TypedDict`` is an action on Python 3.11 too.

pydantic cannot build a schema from ``typing.TypedDict`` before Python 3.12,
so LangGraph's own ``get_input_jsonschema`` and ``input_schema`` raise; weft
then describes the state by its key names. This is the graph a user writes
first (docs/interop.md), and it was an import-time traceback.
"""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph

import weft


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
