"""A LangGraph user's slips with weft are named before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

import weft
from weft.protocols import DefinitionError
from weft.runtime.engine.compiler import compile_workflow
from weft.workflows import load_workflow


class State(TypedDict, total=False):
    topic: str
    joke: str


def tell(state: State) -> State:
    return {"joke": f"Why did the {state.get('topic')} cross the road?"}


def builder() -> StateGraph:
    made = StateGraph(State)
    made.add_node("tell", tell)
    made.add_edge(START, "tell")
    made.add_edge("tell", END)
    return made


def test_a_misspelt_state_key_is_refused_with_the_close_one() -> None:
    # LangGraph itself drops a key its state does not have, and runs without it
    wf = weft.Workflow("w")
    wf.node("jokes", builder().compile(name="jokes"), with_={"topc": "cats"})
    with pytest.raises(DefinitionError) as info:
        compile_workflow(wf)
    [(message, where)] = info.value.problems
    assert message.startswith("action 'jokes' has no parameter 'topc' (did you mean 'topic'?)")
    assert (where.node, where.field) == ("jokes", "with.topc")


def test_the_graphs_own_keys_still_pass() -> None:
    wf = weft.Workflow("w")
    wf.node("jokes", builder().compile(name="jokes"), with_={"topic": "cats"})
    result = weft.run_sync(wf, record=False)
    assert result.outputs["jokes"]["joke"] == "Why did the cats cross the road?"


def test_a_graph_builder_not_compiled_says_to_compile_it() -> None:
    wf = weft.Workflow("w")
    with pytest.raises(DefinitionError, match=r"StateGraph must be compiled .*\.compile\(\)"):
        wf.node("jokes", builder(), with_={"topic": "cats"})


def test_a_builder_named_by_a_python_ref_says_to_compile_it(tmp_path: Path) -> None:
    """The builder's message reached only the Python builder; a YAML ``python:`` ref to
    the same object said ``<...StateGraph object at 0x...> is not an action``."""
    (tmp_path / "uncompiled_graphs.py").write_text(
        "from langgraph.graph import END, START, StateGraph\n"
        "from typing import TypedDict\n"
        "class State(TypedDict, total=False):\n    topic: str\n"
        "made = StateGraph(State)\n"
        "made.add_node('tell', lambda s: {'topic': s.get('topic')})\n"
        "made.add_edge(START, 'tell')\nmade.add_edge('tell', END)\n"
    )
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: unc\n"
        'actions:\n  g: {python: "uncompiled_graphs.py:made"}\n'
        "nodes:\n  n: {action: g, with: {topic: a}}\n"
    )
    with pytest.raises(DefinitionError) as info:
        compile_workflow(load_workflow(flow))
    assert "StateGraph must be compiled to be an action: pass its .compile()" in str(info.value)
    assert "object at 0x" not in str(info.value)


def test_a_builder_among_an_agents_tools_says_to_compile_it() -> None:
    with pytest.raises(TypeError, match=r"tools: a LangGraph StateGraph must be compiled"):
        weft.LLMAgent("helper", model="m", tools=[builder()])
