"""FoA clusters: exactly members x k refinements, then one synthesis; similar subtasks grouped."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.teams.scripted import echo
from weft.protocols import CapabilityCard
from weft.protocols.teams import MessageType, TeamMessage
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.routing.embeddings.hashing import HashingEmbedder
from weft.runtime.teams import Cluster, group_similar
from weft.runtime.tracing.spans import MemoryTracer


def _writer(name: str, calls: list[tuple[str, str, int]]) -> Any:
    def reply(context: dict[str, Any]) -> Any:
        mode = context["mode"]
        calls.append((name, mode, context.get("round", 0)))
        if mode == "draft":
            return f"{name}:{context['subtask']}"
        if mode == "refine":
            peers = "+".join(sorted(str(p["output"]).split("|")[0] for p in context["peers"]))
            return f"{str(context['own']).split('|')[0]}|r{context['round']} saw {peers}"
        return " / ".join(str(o["output"]) for o in context["outputs"])

    return echo(name, reply)


@pytest.mark.parametrize("members,rounds", [(3, 2), (2, 1), (4, 3), (3, 0)])
async def test_a_cluster_sends_members_times_k_refinements_then_one_synthesis(
    members: int, rounds: int
) -> None:
    calls: list[tuple[str, str, int]] = []
    broker = InProcessBroker()
    async with InProcessBus(broker) as bus, InProcessBus(broker) as watcher:
        sub = await watcher.subscribe(f"{watcher.topics.prefix}/teams/+")
        names = [f"w{i}" for i in range(members)]
        cluster = Cluster("fed", [_writer(n, calls) for n in names], rounds=rounds, bus=bus)
        output = await cluster.run("report", [f"part{i}" for i in range(members)])
        log = [
            TeamMessage.model_validate_json((await sub.get(5)).payload)
            for _ in range(output["messages"])
        ]
        await sub.close()
    kinds = Counter(m.type for m in log)
    assert kinds[MessageType.DRAFT] == members
    assert kinds[MessageType.REFINEMENT] == members * rounds
    assert kinds[MessageType.SYNTHESIS] == 1
    assert log[-1].type is MessageType.SYNTHESIS  # the synthesis comes last, once
    rounds_seen = [m.data["round"] for m in log if m.type is MessageType.REFINEMENT]
    assert rounds_seen == sorted(rounds_seen)  # round r is complete before round r+1
    modes = Counter(mode for _, mode, _ in calls)
    assert (modes["draft"], modes["refine"], modes["synthesize"]) == (members, members * rounds, 1)
    if rounds:
        # in round 1 each member saw its peers' drafts
        assert output["outputs"]["w0"].startswith(f"w0:part0|r{rounds} saw ")
        assert "w1:part1" in output["outputs"]["w0"]
    assert output["synthesis"].count(" / ") == members - 1


async def test_cluster_messages_are_spans() -> None:
    tracer = MemoryTracer()
    calls: list[tuple[str, str, int]] = []
    cluster = Cluster("fed", [_writer("a", calls), _writer("b", calls)], rounds=2, tracer=tracer)
    output = await cluster.run("x", ["p", "q"])
    team_spans = [s for s in tracer.spans if s.kind == "team"]
    assert len(team_spans) == output["messages"] == 1 + 2 + 4 + 1
    assert team_spans[-1].attributes["weft.team.message"] == "synthesis"


async def test_a_member_in_several_seats_keeps_every_seats_answer() -> None:
    """A plan's channel often routes all its subtasks to one agent: ``outputs`` was keyed
    by name alone, so only the last seat's answer was left."""
    calls: list[tuple[str, str, int]] = []
    writer = _writer("writer", calls)
    cluster = Cluster("fed", [writer, writer, _writer("editor", calls)], rounds=1)
    output = await cluster.run("x", ["intro", "body", "end"])
    assert list(output["outputs"]) == ["writer", "writer#2", "editor"]
    assert output["outputs"]["writer"].startswith("writer:intro|r1")
    assert output["outputs"]["writer#2"].startswith("writer:body|r1")
    assert output["outputs"]["editor"].startswith("editor:end|r1")


async def test_a_cluster_needs_one_subtask_per_member() -> None:
    calls: list[tuple[str, str, int]] = []
    cluster = Cluster("fed", [_writer("a", calls), _writer("b", calls)])
    with pytest.raises(Exception, match="2 members but got 3 subtasks"):
        await cluster.run("x", ["p", "q", "r"])


def _card(agent: str, description: str, *skills: str) -> CapabilityCard:
    return CapabilityCard(agent_id=agent, description=description, skills=list(skills))


def test_subtasks_routed_to_the_same_agent_share_a_channel() -> None:
    a, b = _card("sql", "writes SQL"), _card("charts", "draws charts")
    assert group_similar([a, b, a, None, b]) == [[0, 2], [1, 4], [3]]


def test_similar_agents_share_a_channel_and_different_ones_do_not() -> None:
    cards = [
        _card("rev1", "reviews Python code for bugs", "code review"),
        _card("plot", "plots sales charts", "charts"),
        _card("rev2", "reviews Python code for bugs and style", "code review"),
    ]
    groups = group_similar(cards, embedder=HashingEmbedder(), threshold=0.6)
    assert groups == [[0, 2], [1]]
    assert group_similar(cards, embedder=HashingEmbedder(), threshold=0.999) == [[0], [1], [2]]


async def test_an_unknown_synthesizer_fails_before_any_member_is_called() -> None:
    calls: list[tuple[str, str, int]] = []
    cluster = Cluster("fed", [_writer("a", calls), _writer("b", calls)], synthesizer="synthesiser")
    with pytest.raises(Exception, match="synthesizer 'synthesiser'") as failed:
        await cluster.run("x", ["p", "q"])
    assert calls == []  # not one draft or refinement was paid for
    assert "cluster 'fed'" in str(failed.value) and "known actions" in str(failed.value)


async def test_a_cluster_in_a_workflow_names_the_unknown_synthesizer_and_the_closest_action() -> (
    None
):
    """Caught when the workflow compiles (the cluster declares the names it calls), so
    ``weft validate`` finds it too and nothing runs."""
    from weft.protocols import DefinitionError
    from weft.runtime.engine.runner import run_workflow
    from weft.workflows import Workflow

    calls: list[tuple[str, str, int]] = []
    writer, editor = _writer("writer", calls), _writer("editor", calls)
    cluster = Cluster("fed", ["writer", "writer"], rounds=3, synthesizer="edtor")
    flow = Workflow("w")
    flow.node("refine", cluster, with_={"task": "post"})
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(flow, actions={"writer": writer, "editor": editor}, journal=False)
    message = str(caught.value)
    assert "node 'refine'" in message
    assert "'edtor' is no action of this workflow" in message
    assert "(did you mean 'editor'?)" in message
    assert calls == []
