"""A member that dies mid-conversation is replaced from its pool, or the team concludes."""

from __future__ import annotations

from typing import Any

from tests.teams.scenarios import check_legal_states, check_one_speaker_per_turn, run_in_process
from tests.teams.scripted import Script, echo, failing, members
from weft.agents import tool
from weft.protocols.teams import MessageType
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.teams import Team, TeamMember
from weft.runtime.tracing.spans import MemoryTracer


async def test_a_dead_member_is_replaced_from_its_pool_and_the_replacement_takes_the_turn() -> None:
    script = Script({4: {"act": "conclude", "text": "done by the spare"}})
    flaky = TeamMember.of(failing("flaky", after=1), pool=[script.member("spare")])
    team = Team("pool", [flaky, *members(script, "steady")], max_turns=10)
    outcome, log = await run_in_process(team, "work")
    assert outcome.reason == "concluded"
    assert outcome.members == ["spare", "steady"]
    replaced = [m for m in log if m.type is MessageType.MEMBER_REPLACED]
    assert len(replaced) == 1
    assert replaced[0].data["lost"] == "flaky" and replaced[0].data["replacement"] == "spare"
    assert replaced[0].data["error"]["type"] == "ConnectionError"
    # flaky spoke turn 1; its turn 3 went to the spare, then steady concluded... in seat order
    assert [(m.turn, m.sender) for m in log if m.turn is not None] == [
        (1, "flaky"),
        (2, "steady"),
        (3, "spare"),
        (4, "steady"),
    ]
    check_legal_states(log)
    check_one_speaker_per_turn(log)


async def test_with_an_empty_pool_the_team_concludes_with_what_it_has() -> None:
    def steady(context: dict[str, Any]) -> Any:
        return {"act": "speak", "text": f"finding {context['turn']}"}

    team = Team("lost", [failing("flaky", after=1), echo("steady", steady)], max_turns=10)
    outcome, log = await run_in_process(team, "work")
    assert outcome.reason == "member_lost"
    assert outcome.conclusion == "finding 2"
    assert outcome.turns == 2
    assert log[-1].type is MessageType.CONCLUSION
    assert log[-1].data["lost"] == "flaky"


async def test_a_remote_member_whose_agent_is_lost_is_replaced() -> None:
    broker = InProcessBroker()
    host_bus = InProcessBus(broker)
    await host_bus.start()

    @tool
    async def remote_bob(task: str, context: dict[str, Any]) -> Any:
        return {"act": "speak", "text": "bob from afar"}

    host = AgentHost(host_bus, [remote_bob], heartbeat_interval=0.1)
    await host.start()

    async def alice(context: dict[str, Any]) -> Any:
        if context["turn"] == 2:
            await host.stop()  # the remote agent goes away mid-conversation
            return {"act": "speak", "text": "bob's agent just stopped"}
        return {"act": "conclude", "text": "finished without bob's agent"}

    script = Script({})
    async with InProcessBus(broker) as caller_bus, LiveRegistry(caller_bus) as registry:
        await registry.wait_for(["remote_bob"], 5)
        bob = TeamMember.of(registry.remote("remote_bob"), pool=[script.member("carol")])
        team = Team("remote", [bob, echo("alice", alice)], max_turns=10, turn_timeout=0.5)
        outcome, log = await run_in_process(team, "work")
    await host_bus.close()
    assert outcome.conclusion == "finished without bob's agent"
    senders = [(m.turn, m.sender) for m in log if m.turn is not None]
    assert senders == [(1, "remote_bob"), (2, "alice"), (3, "carol"), (4, "alice")]
    lost = [m.data for m in log if m.type is MessageType.MEMBER_REPLACED]
    assert [d["lost"] for d in lost] == ["remote_bob"]
    assert lost[0]["error"]["type"] == "RemoteTimeout"
    assert "no live agent serves 'remote_bob'" in lost[0]["error"]["message"]


async def test_the_failed_call_hangs_under_the_message_that_reports_it() -> None:
    script = Script({2: {"act": "conclude", "text": "ok"}})
    tracer = MemoryTracer()
    flaky = TeamMember.of(failing("flaky"), pool=[script.member("spare")])
    await Team("spans", [flaky, *members(script, "steady")], tracer=tracer).run("x")
    ids = {s.span_id for s in tracer.spans}
    outside = {s.parent_id for s in tracer.spans if s.parent_id not in ids}
    assert len(outside) == 1  # every span hangs, in the end, under the team's own call
    failed = next(s for s in tracer.spans if s.kind == "call" and s.status == "error")
    parent = next(s for s in tracer.spans if s.span_id == failed.parent_id)
    assert parent.attributes["weft.team.message"] == "member_replaced"
