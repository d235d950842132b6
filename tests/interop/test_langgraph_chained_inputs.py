"""A node without ``with`` after a graph or a tool that returns an object with its input's key.

Found while checking ``weft topology``: the one-input rule put a predecessor's
whole object in the one input, so the same one-key LangGraph graph chained
twice got ``{"text": {"text": ...}}``, and a ``def tb(text: str)`` tool after
that graph failed (``Input should be a valid string (got an object)``). An
object that has the input's key is now taken apart into the action's
parameters, unless that parameter declares an object itself.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

import weft
from weft import Workflow, run_workflow


class Text(TypedDict):
    text: str


def _graph(name: str) -> Any:
    def ask(state: Text) -> Text:
        return {"text": state["text"] + "?"}

    builder = StateGraph(Text)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(name=name)


@weft.tool
def bang(text: str) -> str:
    return text + "!"


@weft.tool
def angled(text: str) -> str:
    return f"<{text}>"


async def test_the_same_one_key_graph_chained_twice_does_not_nest_its_state() -> None:
    graph = _graph("asker")
    wf = Workflow("twice")
    wf.input("text", type="string")
    wf.node("first", graph, with_={"text": "${inputs.text}"})
    wf.node("second", graph, after="first")
    result = await run_workflow(wf, {"text": "hi"})
    assert result.ok, result.error
    assert result.outputs == {"second": {"text": "hi??"}}


async def test_a_text_tool_after_a_graph_gets_the_text_in_its_state() -> None:
    wf = Workflow("tool-graph-tool")
    wf.input("text", type="string")
    wf.node("a", bang, with_={"text": "${inputs.text}"})
    wf.node("g", _graph("asker"), after="a")
    wf.node("b", angled, after="g")
    result = await run_workflow(wf, {"text": "hi"})
    assert result.ok, result.error
    assert result.outputs == {"b": "<hi!?>"}


async def test_the_keys_an_action_takes_are_its_arguments_and_the_others_are_left() -> None:
    @weft.tool
    def state() -> dict[str, Any]:
        return {"text": "t", "count": 2, "notes": "left out"}

    @weft.tool
    def counted(text: str, count: int = 0) -> str:
        return f"{text}*{count}"

    wf = Workflow("apart")
    wf.node("s", state)
    wf.node("c", counted, after="s")
    result = await run_workflow(wf)
    assert result.ok, result.error
    assert result.outputs == {"c": "t*2"}


async def test_an_input_that_declares_an_object_still_gets_the_whole_object() -> None:
    @weft.tool
    def made() -> dict[str, Any]:
        return {"text": "t"}

    @weft.tool
    def whole(text: dict[str, Any]) -> dict[str, Any]:
        return text

    wf = Workflow("whole")
    wf.node("m", made)
    wf.node("w", whole, after="m")
    wf.node("b", angled, after="m")  # beside it, a text input takes the object apart
    result = await run_workflow(wf)
    assert result.ok, result.error
    assert result.outputs == {"w": {"text": "t"}, "b": "<t>"}
