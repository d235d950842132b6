"""The team scenario both buses must run alike, and the checks every conversation must pass."""

from __future__ import annotations

from collections import Counter

from tests.teams.scripted import Script
from weft.protocols.teams import MessageType, TeamMessage, TeamOutcome, TeamState
from weft.runtime.bus.base import Bus
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.teams import Team, is_legal

#: alice splits the work (two async tasks, one of them gated), bob hands over to carol,
#: carol assigns a sync task, alice pauses for both async tasks, bob proposes, the vote
#: passes 2-1 and the proposal is the team's answer.
SCENARIO = {
    1: {
        "act": "assign",
        "text": "split the work",
        "tasks": [
            {"id": "a1", "to": "bob", "task": "gather sources (gate)", "mode": "async"},
            {"id": "a2", "to": "carol", "task": "draft figures", "mode": "async"},
        ],
    },
    2: {"act": "speak", "text": "sources are coming; carol?", "to": "carol"},
    3: {
        "act": "assign",
        "text": "alice, outline it now",
        "tasks": [{"id": "s1", "to": "alice", "task": "outline", "mode": "sync"}],
    },
    4: {"act": "pause", "text": "wait for sources and figures", "wait_for": ["a1", "a2"]},
    5: {"act": "propose", "text": "report: outline + sources + figures"},
    6: {"act": "vote", "vote": "yes"},
    7: {"act": "vote", "vote": "no"},
}


def scenario_script() -> Script:
    return Script(SCENARIO)


def check_legal_states(log: list[TeamMessage]) -> None:
    states = [TeamState.TEAMUP, *(m.state for m in log)]
    assert is_legal(states), states


def check_one_speaker_per_turn(log: list[TeamMessage]) -> None:
    turns = [m for m in log if m.turn is not None]
    per_turn = Counter(m.turn for m in turns)
    assert all(count == 1 for count in per_turn.values()), per_turn
    assert sorted(per_turn) == list(range(1, len(per_turn) + 1))


def check_pauses(log: list[TeamMessage]) -> None:
    """Between a pause and its trigger no member speaks, and every waited task reports first."""
    for i, message in enumerate(log):
        if message.type is not MessageType.PAUSE:
            continue
        j = next(k for k in range(i + 1, len(log)) if log[k].type is MessageType.TRIGGER)
        reported = {m.task_id for m in log[:j] if m.type is MessageType.TASK_RESULT}
        assert set(message.wait_for) <= reported
        assert all(m.turn is None for m in log[i + 1 : j])


async def run_watched(
    team: Team, task: str, bus: Bus, watcher: Bus
) -> tuple[TeamOutcome, list[TeamMessage]]:
    """Run ``team`` on ``bus`` while ``watcher`` (another client) records the team topic."""
    seen: list[TeamMessage] = []
    sub = await watcher.subscribe(f"{watcher.topics.prefix}/teams/+")
    team.bus = bus
    outcome = await team.run(task)
    while len(seen) < outcome.messages:
        seen.append(TeamMessage.model_validate_json((await sub.get(timeout=10)).payload))
    await sub.close()
    return outcome, seen


async def run_in_process(team: Team, task: str) -> tuple[TeamOutcome, list[TeamMessage]]:
    broker = InProcessBroker()
    async with InProcessBus(broker) as bus, InProcessBus(broker) as watcher:
        return await run_watched(team, task, bus, watcher)
