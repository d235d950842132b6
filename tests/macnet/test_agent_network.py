"""A MacNet network of agents runs as one workflow: each node once, layers in parallel,
critics on edges that send work back for a bounded number of revisions."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from weft.agents import tool
from weft.protocols import EventKind, NodeState, RunEvent
from weft.runtime.engine.runner import run_workflow
from weft.workflows import Workflow
from weft.workflows.casting import per_node
from weft.workflows.topologies import KINDS, generate


async def run(wf: Workflow, task: str = "write a haiku", **options: Any) -> Any:
    return await run_workflow(wf, {"task": task}, record=False, **options)


@pytest.mark.parametrize("kind", KINDS)
async def test_every_node_is_its_own_agent_and_runs_once(kind: str) -> None:
    calls: Counter[str] = Counter()

    def make(node: str, position: int) -> Any:
        @tool(name=f"agent_{node}")
        async def agent(task: str, context: Any = None) -> str:
            """One agent of the network."""
            calls[node] += 1
            return f"{node} did {task}"

        return agent

    result = await run(generate(kind, 12, per_node(make), seed=3))
    assert result.ok, result.error
    assert calls == Counter({f"n{i}": 1 for i in range(12)})
    assert {n.state for n in result.nodes.values()} == {NodeState.SUCCEEDED}


async def test_the_nodes_of_a_layer_run_at_the_same_time() -> None:
    width, layers = 3, 3
    started: dict[int, int] = defaultdict(int)
    everyone_in: dict[int, asyncio.Event] = defaultdict(asyncio.Event)

    def member(node: str, position: int) -> Any:
        layer = position // width

        @tool(name=f"member_{layer}")
        async def wait_for_the_layer(task: str, context: Any = None) -> str:
            """Wait until every node of its layer has started: only a parallel run gets past."""
            started[layer] += 1
            if started[layer] == width:
                everyone_in[layer].set()
            await asyncio.wait_for(everyone_in[layer].wait(), timeout=10)
            return task

        return wait_for_the_layer

    members = {layer: member("", layer * width) for layer in range(layers)}
    wf = generate(
        "layered", width * layers, per_node(lambda _n, i: members[i // width]), width=width
    )
    result = await run(wf)
    assert result.ok, result.error
    for layer in range(layers):
        names = [f"n{layer * width + i}" for i in range(width)]
        starts = [result.nodes[n].started_at for n in names]
        ends = [result.nodes[n].finished_at for n in names]
        assert max(starts) <= min(ends)  # all started before any finished
        if layer:  # and a layer starts only when the one before has finished
            before = [f"n{(layer - 1) * width + i}" for i in range(width)]
            assert min(starts) >= max(result.nodes[n].finished_at for n in before)


class Writer:
    """An actor that counts its drafts and revisions; it takes the critic's feedback."""

    def __init__(self) -> None:
        self.revisions: list[tuple[str, Any]] = []

        @tool
        def write(
            task: str, context: Any = None, feedback: str | None = None, draft: Any = None
        ) -> str:
            """Write (or revise) a text."""
            if feedback is None:
                return f"draft of {task}"
            self.revisions.append((feedback, draft))
            return f"revision {len(self.revisions)}"

        self.action = write


def critic_that_approves(after: int) -> Any:
    """A critic that rejects the first ``after`` artifacts it sees, then approves."""
    seen: list[Any] = []

    @tool
    def critic(artifact: Any, source: str, target: str) -> dict[str, Any]:
        """Review an artifact."""
        seen.append(artifact)
        if len(seen) > after:
            return {"approved": True}
        return {"approved": False, "feedback": f"tighten it ({len(seen)})"}

    critic.seen = seen  # type: ignore[attr-defined]
    return critic


@tool
def publish(text: str) -> str:
    """Publish what arrived."""
    return f"published: {text}"


def reviewed_pair(writer: Any, critic: Any, rounds: int) -> Workflow:
    wf = Workflow("pair")
    wf.input("task")
    wf.node("write", writer, with_={"task": "${inputs.task}"})
    wf.node("publish", publish)
    wf.edge("write", "publish", critic=critic, max_rounds=rounds)
    return wf


async def test_a_critic_sends_work_back_until_it_approves() -> None:
    writer, critic = Writer(), critic_that_approves(after=2)
    result = await run(reviewed_pair(writer.action, critic, rounds=5))
    assert result.ok, result.error
    assert writer.revisions == [
        ("tighten it (1)", "draft of write a haiku"),
        ("tighten it (2)", "revision 1"),
    ]
    assert critic.seen == ["draft of write a haiku", "revision 1", "revision 2"]
    assert result.outputs == {"publish": "published: revision 2"}


async def test_send_backs_stop_at_max_rounds_and_the_last_revision_goes_on() -> None:
    writer, critic = Writer(), critic_that_approves(after=100)
    result = await run(reviewed_pair(writer.action, critic, rounds=3))
    assert result.ok, result.error
    assert len(writer.revisions) == 3
    assert len(critic.seen) == 4  # the draft and three revisions
    assert result.outputs == {"publish": "published: revision 3"}


async def test_without_rounds_a_rejected_artifact_is_not_passed_on() -> None:
    writer, critic = Writer(), critic_that_approves(after=100)
    result = await run(reviewed_pair(writer.action, critic, rounds=0))
    assert writer.revisions == []
    assert result.nodes["publish"].state is NodeState.SKIPPED


async def test_an_actor_without_a_feedback_parameter_gets_the_instructions_in_its_text() -> None:
    texts: list[str] = []

    @tool
    def write(text: str) -> str:
        """Write a text."""
        texts.append(text)
        return f"take {len(texts)}"

    wf = Workflow("pair")
    wf.input("task")
    wf.node("write", write, with_={"text": "${inputs.task}"})
    wf.node("publish", publish)
    wf.edge("write", "publish", critic=critic_that_approves(after=1), max_rounds=2)
    result = await run(wf)
    assert result.ok, result.error
    first, revision = texts
    assert first == "write a haiku"
    assert revision.startswith("write a haiku\n\nYour previous draft:\ntake 1\n")
    assert "tighten it (1)" in revision
    assert result.outputs == {"publish": "published: take 2"}


async def test_an_actor_that_cannot_take_instructions_fails_the_edge_with_a_reason() -> None:
    @tool
    def count(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    wf = Workflow("pair")
    wf.node("count", count, with_={"a": 1, "b": 2})
    wf.node("publish", publish)
    wf.edge("count", "publish", critic=critic_that_approves(after=5), max_rounds=1)
    result = await run(wf)
    error = result.nodes["publish"].error
    assert result.nodes["publish"].state is NodeState.FAILED and error is not None
    assert "revision 1 of count -> publish" in error.message
    assert "critic's instructions cannot be given" in error.message


async def test_each_review_is_an_event_with_its_round() -> None:
    events: list[RunEvent] = []
    writer, critic = Writer(), critic_that_approves(after=2)
    await run(reviewed_pair(writer.action, critic, rounds=4), listeners=[events.append])
    reviews = [e for e in events if e.kind is EventKind.PROGRESS and "critic" in e.data]
    assert [e.data["round"] for e in reviews] == [0, 1, 2]
    assert [e.data["review"]["approved"] for e in reviews] == [False, False, True]


async def test_critics_on_every_edge_of_a_random_network_review_each_artifact() -> None:
    writer = Writer()
    critic = critic_that_approves(after=0)
    wf = generate("random", 10, writer.action, seed=7, critic=critic, max_rounds=2)
    edges = sum(len(n.after) for n in wf.build().nodes.values())
    result = await run(wf)
    assert result.ok, result.error
    assert edges > 0 and len(critic.seen) == edges
    assert writer.revisions == []


async def test_a_resumed_run_takes_revisions_from_the_journal(tmp_path: Path) -> None:
    from weft.runtime.engine.runner import resume_run

    writer = Writer()
    down = {"failing": True}

    @tool
    def strict(artifact: Any, source: str, target: str) -> dict[str, Any]:
        """Approve revisions only."""
        return {"approved": str(artifact).startswith("revision"), "feedback": "again"}

    @tool
    def deliver(text: str) -> str:
        """Fails until the outage is over."""
        if down["failing"]:
            raise RuntimeError("outage")
        return f"delivered {text}"

    wf = Workflow("pair")
    wf.input("task")
    wf.node("write", writer.action, with_={"task": "${inputs.task}"})
    wf.node("deliver", deliver)
    wf.edge("write", "deliver", critic=strict, max_rounds=2)
    journal = tmp_path / "journal.db"
    first = await run_workflow(wf, {"task": "x"}, journal=journal, tracer=False)
    assert not first.ok and len(writer.revisions) == 1
    down["failing"] = False
    resumed = await resume_run(first.run_id, journal=journal, definition=wf, tracer=False)
    assert resumed.ok, resumed.error
    assert resumed.outputs == {"deliver": "delivered revision 1"}
    assert len(writer.revisions) == 1  # the revision came from the journal
