"""What a LangGraph user moving to weft meets with the graphs they already have.

Each graph is written as LangGraph's documentation writes it; each test compares
weft's answer with what LangGraph itself gives for the same graph: where a node's
error was raised, which input a pydantic or dataclass state requires, and what a
retried or resumed call does to a graph compiled with a checkpointer.
"""

from __future__ import annotations

import datetime
import enum
import operator
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel
from typing_extensions import TypedDict

from weft import Workflow, from_langgraph, run_workflow
from weft.protocols import RunState
from weft.protocols.errors import DefinitionError
from weft.runtime import Journal, resume_run
from weft.runtime.engine.compiler import compile_workflow_async


class Steps(TypedDict):
    topic: str
    steps: Annotated[list[str], operator.add]


def two_steps(
    second: Any,
    *,
    checkpointer: Any = None,
    name: str | None = "steps",
    ran: list[str] | None = None,
) -> Any:
    """``first`` then ``second``, each adding to ``steps``; ``first`` notes its runs in ``ran``."""

    def first(state: Steps) -> dict[str, Any]:
        if ran is not None:
            ran.append("first")
        return {"steps": ["first"]}

    builder = StateGraph(Steps)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    return builder.compile(checkpointer=checkpointer, name=name)


def fails_once(ran: list[str]) -> Any:
    """A node that raises ``ConnectionError`` on its first call only."""

    def second(state: Steps) -> dict[str, Any]:
        ran.append("second")
        if ran.count("second") == 1:
            raise ConnectionError("the service hung up")
        return {"steps": ["second"]}

    return second


def boom(state: Steps) -> dict[str, Any]:
    raise ValueError(f"bad topic {state['topic']!r}")


async def test_a_node_error_names_the_graph_and_the_node_it_was_raised_in() -> None:
    wf = Workflow("w")
    wf.node("g", two_steps(boom, name="drafts"), with_={"topic": "q"})
    result = await run_workflow(wf, record=False)
    error = result.nodes["g"].error
    assert error is not None
    assert error.type == "ValueError"
    assert error.message == "drafts: node 'second': bad topic 'q'"


async def test_an_error_in_a_subgraph_names_the_path_of_nodes() -> None:
    inner = StateGraph(Steps)
    inner.add_node("check", boom)
    inner.add_edge(START, "check")
    outer = StateGraph(Steps)
    outer.add_node("review", inner.compile())
    outer.add_edge(START, "review")
    wf = Workflow("w")
    wf.node("g", outer.compile(name="outer"), with_={"topic": "q"})
    result = await run_workflow(wf, record=False)
    error = result.nodes["g"].error
    assert error is not None
    assert error.message == "outer: node 'review/check': bad topic 'q'"


class Topic(BaseModel):
    topic: str
    count: int = 0


@dataclass
class DataTopic:
    topic: str
    count: int = 0


def counts(state_type: type) -> Any:
    def count(state: Any) -> dict[str, Any]:
        return {"count": len(state.topic)}

    builder = StateGraph(state_type)
    builder.add_node("count", count)
    builder.add_edge(START, "count")
    return builder.compile(name="counter")


@pytest.mark.parametrize("state_type", [Topic, DataTopic])
async def test_a_pydantic_or_dataclass_state_keeps_its_required_fields(state_type: type) -> None:
    """LangGraph builds such a state for the first node and fails there without them."""
    graph = counts(state_type)
    assert from_langgraph(graph).spec.input_schema["required"] == ["topic"]
    with pytest.raises(Exception, match="topic"):
        await graph.ainvoke({"count": 3})  # LangGraph's own answer

    wf = Workflow("w")
    wf.node("c", graph, with_={"count": 3})
    with pytest.raises(DefinitionError, match=r"node 'c'.*missing required argument.*topic"):
        await compile_workflow_async(wf)

    ok = Workflow("w")
    ok.node("c", graph, with_={"topic": "cats"})
    result = await run_workflow(ok, record=False)
    assert result.outputs["c"] == {"topic": "cats", "count": 4}


async def test_a_retried_call_carries_on_its_checkpointed_thread_as_langgraph_resumes() -> None:
    """LangGraph resumes a thread that failed with ``ainvoke(None)``: the nodes that
    finished are not run again and the input is not added to the state twice."""
    ran: list[str] = []
    graph = two_steps(fails_once(ran), checkpointer=InMemorySaver(), ran=ran)
    wf = Workflow("w")
    wf.node(
        "g",
        graph,
        with_={"topic": "t", "steps": ["input"]},
        retry={"max_attempts": 2, "initial_delay": 0.01},
    )
    result = await run_workflow(wf, record=False)
    assert result.ok, result.error
    assert result.nodes["g"].attempts == 2
    assert result.outputs["g"] == {"topic": "t", "steps": ["input", "first", "second"]}
    assert ran == ["first", "second", "second"]

    ran.clear()  # the same with LangGraph alone
    alone = two_steps(fails_once(ran), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    with pytest.raises(ConnectionError):
        await alone.ainvoke({"topic": "t", "steps": ["input"]}, config)
    assert await alone.ainvoke(None, config) == result.outputs["g"]


async def test_weft_resume_carries_on_the_thread_of_the_failed_call(tmp_path: Path) -> None:
    ran: list[str] = []
    graph = two_steps(fails_once(ran), checkpointer=InMemorySaver(), ran=ran)
    wf = Workflow("w")
    wf.node("g", graph, with_={"topic": "t", "steps": ["input"]})
    journal = Journal(tmp_path / "journal.db")

    failed = await run_workflow(wf, journal=journal, tracer=False)
    assert not failed.ok
    resumed = await resume_run(failed.run_id, journal=journal, definition=wf, tracer=False)
    assert resumed.ok, resumed.error
    assert resumed.outputs["g"]["steps"] == ["input", "first", "second"]
    assert ran == ["first", "second", "second"]  # `first` finished before: not run again


async def test_a_graph_without_a_checkpointer_runs_the_input_again_on_retry() -> None:
    """Without one, LangGraph keeps nothing to carry on: the whole graph runs again."""
    ran: list[str] = []
    wf = Workflow("w")
    wf.node(
        "g",
        two_steps(fails_once(ran), ran=ran),
        with_={"topic": "t", "steps": ["input"]},
        retry={"max_attempts": 2, "initial_delay": 0.01},
    )
    result = await run_workflow(wf, record=False)
    assert result.outputs["g"] == {"topic": "t", "steps": ["input", "first", "second"]}
    assert ran == ["first", "second", "first", "second"]


async def test_a_graph_with_a_sync_only_checkpointer_runs_and_resumes(tmp_path: Path) -> None:
    """``SqliteSaver`` has no async methods: LangGraph's ``ainvoke`` refuses it, ``invoke``
    works, and weft carries the thread on across processes as with any other."""
    ran: list[str] = []
    saver = SqliteSaver(sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False))
    graph = two_steps(fails_once(ran), checkpointer=saver, ran=ran)
    wf = Workflow("w")
    wf.node("g", graph, with_={"topic": "t", "steps": ["input"]})
    journal = Journal(tmp_path / "journal.db")

    failed = await run_workflow(wf, journal=journal, tracer=False)
    error = failed.nodes["g"].error
    assert error is not None and error.message == "steps: node 'second': the service hung up"
    resumed = await resume_run(failed.run_id, journal=journal, definition=wf, tracer=False)
    assert resumed.ok, resumed.error
    assert resumed.outputs["g"]["steps"] == ["input", "first", "second"]
    assert ran == ["first", "second", "second"]


class Post(TypedDict):
    draft: str
    steps: Annotated[list[str], operator.add]


async def test_an_answered_call_retried_replays_its_answers_on_a_fresh_thread(
    tmp_path: Path,
) -> None:
    """A retry after the answer must not add the input to the answered thread again."""
    failures = [ConnectionError("the service hung up")]

    def write(state: Post) -> dict[str, Any]:
        return {"steps": ["write"]}

    def approve(state: Post) -> dict[str, Any]:
        return {"steps": [interrupt("Publish it?")]}

    def publish(state: Post) -> dict[str, Any]:
        if failures:
            raise failures.pop()
        return {"steps": ["published"]}

    builder = StateGraph(Post)
    for name, node in (("write", write), ("approve", approve), ("publish", publish)):
        builder.add_node(name, node)
    builder.add_edge(START, "write")
    builder.add_edge("write", "approve")
    builder.add_edge("approve", "publish")
    graph = builder.compile(checkpointer=InMemorySaver(), name="posting")
    wf = Workflow("w")
    wf.node(
        "post",
        graph,
        with_={"draft": "d", "steps": ["input"]},
        retry={"max_attempts": 2, "initial_delay": 0.01},
    )
    journal = Journal(tmp_path / "journal.db")

    asked = await run_workflow(wf, journal=journal, tracer=False)
    assert asked.state is RunState.NEEDS_INPUT
    done = await resume_run(
        asked.run_id, journal=journal, definition=wf, answers={"post": "yes"}, tracer=False
    )
    assert done.ok, done.error
    assert done.outputs["post"] == {
        "draft": "d",
        "steps": ["input", "write", "yes", "published"],
    }


def test_two_graphs_compiled_without_a_name_are_told_how_to_name_them() -> None:
    """LangGraph names every graph compiled without a name 'LangGraph', as its docs compile
    them; the hint must say how to name a graph, not a function."""
    first, second = two_steps(boom, name=None), two_steps(boom, name=None)
    assert first.name == second.name == "LangGraph"
    wf = Workflow("w")
    wf.node("a", first, with_={"topic": "a"})
    with pytest.raises(DefinitionError, match=r"builder\.compile\(name='writer'\)"):
        wf.node("b", second, with_={"topic": "b"})


class Color(enum.Enum):
    RED = "red"


class Typed(TypedDict, total=False):
    tags: set[str]
    when: datetime.datetime
    color: Color
    raw: bytes


async def test_a_graphs_state_is_json_by_the_same_rule_as_a_tools_output() -> None:
    """A set, a datetime and an enum read as a tool returning them reads, not as their str()."""

    def typed(state: Typed) -> dict[str, Any]:
        return {"tags": {"b", "a"}, "when": datetime.datetime(2026, 1, 2, 3, 4), "color": Color.RED}

    builder = StateGraph(Typed)
    builder.add_node("typed", typed)
    builder.add_edge(START, "typed")
    wf = Workflow("w")
    wf.node("g", builder.compile(name="typed"), with_={})
    result = await run_workflow(wf, record=False)
    assert result.outputs["g"] == {
        "tags": ["a", "b"],
        "when": "2026-01-02T03:04:00",
        "color": "red",
    }


async def test_bytes_in_a_graphs_state_are_refused_naming_the_key() -> None:
    def raw(state: Typed) -> dict[str, Any]:
        return {"raw": b"\x00\x01"}

    builder = StateGraph(Typed)
    builder.add_node("raw", raw)
    builder.add_edge(START, "raw")
    wf = Workflow("w")
    wf.node("g", builder.compile(name="bytes"), with_={})
    result = await run_workflow(wf, record=False)
    error = result.nodes["g"].error
    assert error is not None and error.type == "OutputNotJSON"
    assert error.message.startswith("bytes: ") and "raw" in error.message
