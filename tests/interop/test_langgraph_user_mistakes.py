"""A LangGraph user's slips with weft are named before anything runs."""

from __future__ import annotations

from typing import TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

import weft
from weft.protocols import DefinitionError
from weft.runtime.engine.compiler import compile_workflow


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
