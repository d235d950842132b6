"""Loops, critics on edges and any/quorum joins mean the same on LangGraph's engine as on weft's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.interop.engine_events import Events
from weft import DefinitionError, Workflow, run_workflow, tool
from weft.protocols import NodeState
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.engine.to_langgraph import run_langgraph, to_langgraph


@tool
def draft(feedback: Any = None) -> dict[str, Any]:
    version = feedback["version"] + 1 if isinstance(feedback, dict) else 1
    return {"version": version}


@tool
def review(text: dict[str, Any]) -> dict[str, Any]:
    return {"version": text["version"], "approved": text["version"] >= 3}


@tool
def attempt(value: Any = None, iteration: int = 0) -> dict[str, Any]:
    return {"approved": False, "iteration": iteration, "seen": value}


@tool
def echo(value: Any = None) -> Any:
    return value


@tool
def write(topic: str, feedback: str = "", draft: str = "") -> str:
    return f"{topic}, shorter ({feedback})" if feedback else f"{topic}: a long first draft"


@tool
def shorter_please(artifact: str, source: str = "", target: str = "") -> dict[str, Any]:
    if "shorter" in artifact:
        return {"approved": True}
    return {"approved": False, "feedback": f"cut it ({source}->{target})"}


@tool
def never_pleased(artifact: str, source: str = "", target: str = "") -> dict[str, Any]:
    return {"approved": False, "issues": ["too long", "too vague"]}


@tool
def broken_critic(artifact: str, source: str = "", target: str = "") -> dict[str, Any]:
    raise ValueError("the critic fell over")


@tool
def upper(text: str) -> str:
    return text.upper()


@tool
def number(n: int) -> int:
    return n


@tool
def fails(n: int) -> int:
    raise ValueError("no")


def review_loop() -> Workflow:
    wf = Workflow("review-loop")
    wf.node("draft", draft, with_={"feedback": "${review}"})
    wf.node("review", review, after=["draft"], with_={"text": "${draft}"})
    wf.edge("review", "draft", when="not output.approved", max_iterations=5)
    wf.node("publish", echo, after=["review"])
    return wf


def bounded_loop() -> Workflow:
    wf = Workflow("bounded-loop")
    wf.node("attempt", attempt, with_={"value": "${check}", "iteration": "${iteration}"})
    wf.node("check", echo, after=["attempt"], with_={"value": "${attempt}"})
    wf.edge("check", "attempt", when="not output.approved", max_iterations=3)
    return wf


def critic_with_rounds(critic: Any, rounds: int) -> Callable[[], Workflow]:
    def build() -> Workflow:
        wf = Workflow("critic")
        wf.input("topic", default="weft")
        a = wf.node("writer", write, with_={"topic": "${inputs.topic}"})
        wf.node("shout", upper, after=[])
        wf.edge(a, "shout", critic=critic, max_rounds=rounds)
        wf.node("keep", echo, after=["writer"])
        return wf

    return build


def any_join() -> Workflow:
    wf = Workflow("any-join")
    wf.node("start", number, with_={"n": 2})
    wf.node("b", number, after=["start"], with_={"n": "${start}"})
    wf.node("c", number, after=["start"], with_={"n": 3})
    wf.node("d", echo, after=["b", "c"], join={"mode": "any", "reducer": "first"})
    return wf


def quorum(count: int, when_c: str | None) -> Callable[[], Workflow]:
    def build() -> Workflow:
        wf = Workflow("quorum", on_failure="continue")
        wf.node("start", number, with_={"n": 1})
        wf.node("b", number, after=["start"], with_={"n": 2})
        wf.node("c", number, after=[], with_={"n": 3})
        wf.edge("start", "c", when=when_c)
        wf.node("e", fails, after=["start"], with_={"n": 4})
        wf.node("d", echo, after=["b", "c", "e"], join={"mode": "quorum", "count": count})
        return wf

    return build


def critic_after_foreach() -> Workflow:
    wf = Workflow("foreach-critic", on_failure="continue")
    wf.input("topics", default=["a", "b"])
    wf.node("writers", write, foreach="${inputs.topics}", with_={"topic": "${item}"})
    wf.node("joined", echo, after=[])
    wf.edge("writers", "joined", critic=never_pleased, max_rounds=1)
    return wf


def foreach_in_a_loop() -> Workflow:
    wf = Workflow("foreach-loop")
    wf.input("items", default=[1, 2])
    wf.node("start", number, with_={"n": 0})
    wf.node(
        "each",
        attempt,
        after=["start"],
        foreach="${inputs.items}",
        with_={"value": "${item}", "iteration": "${iteration}"},
    )
    wf.node("check", echo, after=["each"], with_={"value": "${each}"})
    wf.edge("check", "each", when="output[0]['iteration'] < 2", max_iterations=4)
    return wf


def nested_loop() -> Workflow:
    wf = Workflow("nested")
    wf.node("inner", review_loop())
    wf.node("after", echo, after=["inner"])
    return wf


WORKFLOWS: dict[str, Callable[[], Workflow]] = {
    "loop in a sub-workflow": nested_loop,
    "loop over a foreach": foreach_in_a_loop,
    "critic after a foreach": critic_after_foreach,
    "loop until approved": review_loop,
    "loop to its bound": bounded_loop,
    "critic sends back once": critic_with_rounds(shorter_please, 2),
    "critic out of rounds": critic_with_rounds(never_pleased, 1),
    "critic rejects, no rounds": critic_with_rounds(never_pleased, 0),
    "critic breaks": critic_with_rounds(broken_critic, 1),
    "any join": any_join,
    "quorum met despite a failure": quorum(2, None),
    "quorum not reached": quorum(2, "False"),
    "quorum failed": quorum(3, None),
}


async def _both(build: Callable[[], Workflow]) -> tuple[RunResult, RunResult, list[list[Any]]]:
    results, events = [], []
    for run in (run_workflow, run_langgraph):
        listen = Events()
        extra = {"record": False} if run is run_workflow else {}
        results.append(await run(build(), {}, listeners=[listen], **extra))
        events.append(listen.seen)
    return results[0], results[1], events


@pytest.mark.parametrize("case", sorted(WORKFLOWS))
async def test_the_outputs_states_and_reviews_match_weft_engine(case: str) -> None:
    weft, lang, (weft_events, lang_events) = await _both(WORKFLOWS[case])
    assert (lang.state, lang.outputs) == (weft.state, weft.outputs)
    assert {n: (o.state, o.reason) for n, o in lang.nodes.items()} == {
        n: (o.state, o.reason) for n, o in weft.nodes.items()
    }
    assert {n: o.error.message for n, o in lang.nodes.items() if o.error} == {
        n: o.error.message for n, o in weft.nodes.items() if o.error
    }
    assert lang_events == weft_events
    if "loop" in case or ("critic" in case and "breaks" not in case):
        assert weft_events  # the comparison saw the loop passes or the reviews


async def test_a_loop_runs_until_approved_and_counts_its_iterations() -> None:
    lang = await run_langgraph(review_loop(), {})
    assert lang.outputs == {"publish": {"version": 3, "approved": True}}
    bounded = await run_langgraph(bounded_loop(), {})
    assert bounded.outputs["check"]["iteration"] == 3  # the first pass and three more


async def test_a_critic_sends_the_artifact_back_and_only_the_edge_carries_the_revision() -> None:
    lang = await run_langgraph(critic_with_rounds(shorter_please, 2)(), {})
    assert lang.outputs == {
        "shout": "WEFT, SHORTER (CUT IT (WRITER->SHOUT))",
        "keep": "weft: a long first draft",
    }
    rejected = await run_langgraph(critic_with_rounds(never_pleased, 0)(), {})
    assert rejected.nodes["shout"].state is NodeState.SKIPPED


async def test_an_any_join_starts_once() -> None:
    lang = await run_langgraph(any_join(), {})
    assert lang.outputs == {"d": 2}


def test_a_capability_node_is_refused_naming_the_node() -> None:
    wf = Workflow("routed")
    wf.node("a", capability="translate Spanish to English")
    with pytest.raises(DefinitionError, match="node 'a': a capability node"):
        asyncio.run(run_langgraph(wf, {}))


def test_a_capability_node_in_a_sub_workflow_is_refused_with_its_path() -> None:
    inner = Workflow("inner")
    inner.node("a", capability="translate Spanish to English")
    outer = Workflow("outer")
    outer.node("sub", inner)
    with pytest.raises(DefinitionError, match="node 'sub/a': a capability node"):
        asyncio.run(run_langgraph(outer, {}))


def test_the_graph_has_a_node_per_critic_edge_and_draws_the_loop() -> None:
    graph = to_langgraph(compile_workflow(critic_with_rounds(shorter_please, 1)()))
    assert set(graph.nodes) == {"writer", "writer->shout", "shout", "keep"}
    drawn = graph.compile().get_graph()
    edges = {(e.source, e.target) for e in drawn.edges}
    assert {("writer", "writer->shout"), ("writer->shout", "shout")} <= edges
    looped = to_langgraph(compile_workflow(review_loop())).compile().get_graph()
    assert ("review", "draft") in {(e.source, e.target) for e in looped.edges}


class InFlight:
    """How many calls of ``busy`` ran at once, at most."""

    now = 0
    most = 0


@tool
async def busy(n: int) -> int:
    InFlight.now += 1
    InFlight.most = max(InFlight.most, InFlight.now)
    for _ in range(3):
        await asyncio.sleep(0)
    InFlight.now -= 1
    return n


@pytest.mark.parametrize(
    ("limits", "most"),
    [({}, 4), ({"concurrency": 2}, 2), ({"action": 1}, 1), ({"workflow": 3}, 3)],
)
async def test_concurrency_limits_hold_around_the_calls(limits: dict[str, int], most: int) -> None:
    wf = Workflow(
        "busy",
        concurrency=limits.get("workflow"),
        action_concurrency={"busy": limits["action"]} if "action" in limits else None,
    )
    wf.input("ns", default=[1, 2, 3, 4])
    wf.node(
        "each",
        busy,
        foreach="${inputs.ns}",
        with_={"n": "${item}"},
        concurrency=limits.get("concurrency"),
    )
    InFlight.most = 0
    result = await run_langgraph(wf, {})
    assert result.outputs == {"each": [1, 2, 3, 4]}
    assert InFlight.most == most
