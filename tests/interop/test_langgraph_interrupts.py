"""A LangGraph graph that calls ``interrupt()`` asks a person, as any weft action that asks.

Before, the graph's half-done state (with ``__interrupt__`` in it) was the
node's output and the run "succeeded". Now the node ends ``needs_input`` with
the interrupt's question, ``resume_run(..., answers=...)`` (``weft resume
--answer``) gives the answers back as ``Command(resume=...)``, one interrupt
at a time, and the nodes below see the finished state.
"""

from __future__ import annotations

import asyncio
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from weft import ActionCall, ActionState, RunState, WeftError, Workflow, tool
from weft.protocols import NodeState
from weft.protocols.human_input import question_of
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.engine.execution_context import UNUSED_CONTEXT
from weft.runtime.engine.to_langgraph import resume_langgraph, run_langgraph
from weft.runtime.remote.agent_host import AgentHost, hosted
from weft.runtime.remote.remote_action import RemoteAction

WAIT = 10.0


class Post(TypedDict, total=False):
    topic: str
    draft: str
    verdict: str
    channel: str


def publisher(written: list[str], checkpointer: Any = None) -> Any:
    """write -> approve; approve interrupts twice (a dict with choices, then a string)."""

    def write(state: Post) -> Post:
        written.append(state["topic"])
        return {"draft": f"a post about {state['topic']}"}

    def approve(state: Post) -> Post:
        verdict = interrupt(
            {"question": "Publish it?", "choices": ["yes", "no"], "draft": state["draft"]}
        )
        channel = interrupt("Which channel?") if verdict == "yes" else "none"
        return {"verdict": verdict, "channel": channel}

    builder = StateGraph(Post)
    builder.add_node("write", write)
    builder.add_node("approve", approve)
    builder.add_edge(START, "write")
    builder.add_edge("write", "approve")
    builder.add_edge("approve", END)
    return builder.compile(name="publisher", checkpointer=checkpointer)


def workflow(graph: Any) -> Workflow:
    @tool
    def announce(verdict: str, channel: str) -> str:
        return f"{verdict} on {channel}"

    wf = Workflow("posting")
    wf.node("publish", graph, with_={"topic": "cats"})
    wf.node(
        "announce",
        announce,
        with_={"verdict": "${publish.verdict}", "channel": "${publish.channel}"},
        after="publish",
    )
    wf.output("said", "${announce}")
    return wf


@pytest.mark.parametrize(
    ("checkpointer", "engine"), [(None, "weft"), ("memory", "weft"), (None, "langgraph")]
)
async def test_a_graph_that_interrupts_stops_needs_input_and_resumes_with_the_answers(
    tmp_path: Path, checkpointer: str | None, engine: str
) -> None:
    """On LangGraph's engine the graph runs inside weft's own LangGraph node: it must
    stay a graph of its own (its interrupt returned, not raised through weft's graph)."""
    written: list[str] = []
    graph = publisher(written, InMemorySaver() if checkpointer else None)
    wf = workflow(graph)
    journal = Journal(tmp_path / "journal.db")
    run, resume = (
        (run_workflow, resume_run) if engine == "weft" else (run_langgraph, resume_langgraph)
    )

    first = await run(wf, journal=journal, tracer=False)
    assert first.state is RunState.NEEDS_INPUT
    node = first.nodes["publish"]
    assert node.state is NodeState.NEEDS_INPUT and node.output is None
    assert question_of(node.error) == {
        "question": "Publish it?",
        "choices": ["yes", "no"],
        "index": 0,
    }
    assert node.error is not None
    assert node.error.details["interrupt"]["draft"] == "a post about cats"
    assert first.nodes["announce"].state is not NodeState.SUCCEEDED

    with pytest.raises(WeftError, match=r"'maybe' is not one of the choices: 'yes', 'no'"):
        await resume_run(first.run_id, journal=journal, definition=wf, answers={"publish": "maybe"})

    second = await resume(
        first.run_id, journal=journal, definition=wf, answers={"publish": "yes"}, tracer=False
    )
    assert question_of(second.nodes["publish"].error) == {
        "question": "Which channel?",
        "choices": None,
        "index": 1,
    }
    done = await resume(
        first.run_id, journal=journal, definition=wf, answers={"publish": "blog"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.outputs == {"said": "yes on blog"}
    assert done.nodes["publish"].output["verdict"] == "yes"
    assert "__interrupt__" not in done.nodes["publish"].output
    assert written == ["cats"] * 3  # run again from its start on each resume, as any action


async def test_interrupts_raised_at_once_by_parallel_nodes_are_answered_in_order() -> None:
    class Picks(TypedDict, total=False):
        picked: Annotated[list[str], operator.add]

    def colour(state: Picks) -> Picks:
        return {"picked": [f"colour {interrupt('Which colour?')}"]}

    def size(state: Picks) -> Picks:
        return {"picked": [f"size {interrupt('Which size?')}"]}

    builder = StateGraph(Picks)
    builder.add_node("colour", colour)
    builder.add_node("size", size)
    builder.add_edge(START, "colour")
    builder.add_edge(START, "size")
    builder.add_edge("colour", END)
    builder.add_edge("size", END)
    graph = builder.compile(name="shirt")
    action = hosted([graph]).get("shirt")

    asked = await action.invoke(ActionCall(action="shirt", arguments={}), UNUSED_CONTEXT)
    assert asked.state is ActionState.NEEDS_INPUT
    assert question_of(asked.error)["question"] == "Which colour?"  # type: ignore[index]
    again = ActionCall(action="shirt", arguments={}, answers=("red",))
    asked = await action.invoke(again, UNUSED_CONTEXT)
    assert question_of(asked.error) == {"question": "Which size?", "choices": None, "index": 1}
    answered = ActionCall(action="shirt", arguments={}, answers=("red", "L"))
    done = await action.invoke(answered, UNUSED_CONTEXT)
    assert done.ok, done.error
    assert sorted(done.output["picked"]) == ["colour red", "size L"]


async def test_a_served_graph_that_interrupts_is_answered_through_the_call() -> None:
    written: list[str] = []
    registry = hosted([publisher(written)])
    spec = registry.get("publisher").spec
    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_bus,
        InProcessBus(broker) as caller_bus,
        AgentHost(agent_bus, registry),
    ):
        remote = RemoteAction(caller_bus, spec, pool="publisher")

        async def call(*answers: str) -> Any:
            made = ActionCall(action="publisher", arguments={"topic": "dogs"}, answers=answers)
            return await asyncio.wait_for(remote.invoke(made), WAIT)

        asked = await call()
        assert asked.state is ActionState.NEEDS_INPUT
        assert question_of(asked.error)["question"] == "Publish it?"  # type: ignore[index]
        done = await call("no")
    assert done.ok, done.error
    assert (done.output["verdict"], done.output["channel"]) == ("no", "none")
