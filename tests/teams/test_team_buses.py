"""The same team conversation, on the in-process bus and over MQTT (a real Mosquitto).

A second client watches the team topic from outside, as ``mosquitto_sub``
would: it opens the gate of the slow async task only when it has seen the
pause, so the pause provably waits for a task that reports after it began.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.teams.scenarios import (
    check_legal_states,
    check_one_speaker_per_turn,
    check_pauses,
    scenario_script,
)
from tests.teams.scripted import members
from weft.protocols.teams import MessageType, TeamMessage, TeamState
from weft.runtime.bus.base import Bus
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.engine.runner import run_workflow
from weft.runtime.teams import Team

BusPair = Callable[[], "asynccontextmanager[tuple[Bus, Bus]]"]


@asynccontextmanager
async def _inprocess() -> AsyncIterator[tuple[Bus, Bus]]:
    broker = InProcessBroker()
    async with InProcessBus(broker) as team_bus, InProcessBus(broker) as watcher:
        yield team_bus, watcher


def _mqtt(url: str) -> Callable[[], AsyncIterator[tuple[Bus, Bus]]]:
    @asynccontextmanager
    async def pair() -> AsyncIterator[tuple[Bus, Bus]]:
        namespace = f"test-{uuid.uuid4().hex[:12]}"
        async with (
            MqttBus(url, namespace=namespace) as team_bus,
            MqttBus(url, namespace=namespace) as watcher,
        ):
            yield team_bus, watcher

    return pair


@pytest.fixture(params=["inprocess", "mqtt"])
def buses(request: pytest.FixtureRequest) -> object:
    if request.param == "inprocess":
        return _inprocess
    return _mqtt(request.getfixturevalue("mqtt_broker_url"))


async def test_team_conversation_is_the_same_on_every_bus(buses: BusPair) -> None:
    script = scenario_script()
    gate = script.gate("gate")
    async with buses() as (team_bus, watcher):
        seen: list[TeamMessage] = []
        sub = await watcher.subscribe(f"{watcher.topics.prefix}/teams/+")

        grew = asyncio.Event()

        async def watch() -> None:
            async for raw in sub:
                message = TeamMessage.model_validate_json(raw.payload)
                seen.append(message)
                grew.set()
                if message.type is MessageType.PAUSE:
                    gate.set()

        watching = asyncio.create_task(watch())
        team = Team("writers", members(script, "alice", "bob", "carol"), bus=team_bus)
        outcome = await team.run("write a short report")
        async with asyncio.timeout(10):  # the watcher may be a few messages behind
            while len(seen) < outcome.messages:
                grew.clear()
                await grew.wait()
        await sub.close()
        await watching

    assert outcome.reason == "vote"
    assert outcome.conclusion == "report: outline + sources + figures"
    assert outcome.turns == 7
    assert outcome.task_results == {
        "a1": "bob did gather sources (gate)",
        "a2": "carol did draft figures",
        "s1": "alice did outline",
    }
    assert outcome.states == [
        TeamState.TEAMUP,
        TeamState.DISCUSSION,
        TeamState.EXECUTION,  # the sync task (turn 3), then the pause (turn 4)
        TeamState.DISCUSSION,  # the trigger
        TeamState.VOTE,
        TeamState.CONCLUSION,
    ]
    assert [turn for turn, _ in script.speakers] == [1, 2, 3, 4, 5, 6, 7]
    assert [name for _, name in script.speakers] == [
        "alice",
        "bob",
        "carol",
        "alice",
        "bob",
        "alice",
        "carol",
    ]
    # what an outside client saw on the topic is the whole conversation, in order
    assert len(seen) == outcome.messages
    check_legal_states(seen)
    check_one_speaker_per_turn(seen)
    check_pauses(seen)
    pause = next(i for i, m in enumerate(seen) if m.type is MessageType.PAUSE)
    gated = next(i for i, m in enumerate(seen) if m.task_id == "a1")
    assert gated > pause  # the gated task reported only after the pause began


async def test_a_yaml_team_with_a_broker_converses_on_its_mqtt_topic(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    (tmp_path / "broker_members.py").write_text(
        "def ann(task: str, context: dict) -> dict:\n"
        "    return {'act': 'conclude' if context['turn'] > 1 else 'speak', 'text': 'ann'}\n"
        "def ben(task: str, context: dict) -> dict:\n"
        "    return {'act': 'speak', 'text': 'ben', 'to': 'ann'}\n"
    )
    (tmp_path / "wf.yaml").write_text(
        "name: broker-team\n"
        "inputs: {broker: {type: string}, ns: {type: string}}\n"
        "actions:\n"
        "  team: {python: 'weft.runtime.teams:team_action'}\n"
        "  ann: {python: 'broker_members:ann'}\n"
        "  ben: {python: 'broker_members:ben'}\n"
        "nodes:\n"
        "  talk:\n"
        "    action: team\n"
        "    with: {task: chat, members: [ann, ben], broker: '${inputs.broker}',"
        " namespace: '${inputs.ns}'}\n"
        "outputs: {said: '${talk.conclusion}'}\n"
    )
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    async with MqttBus(mqtt_broker_url, namespace=namespace) as watcher:
        sub = await watcher.subscribe(f"{watcher.topics.prefix}/teams/+")
        result = await run_workflow(
            tmp_path / "wf.yaml", {"broker": mqtt_broker_url, "ns": namespace}, record=False
        )
        assert result.ok, result
        seen = [TeamMessage.model_validate_json((await sub.get(10)).payload) for _ in range(4)]
        await sub.close()
    assert result.outputs["said"] == "ann"
    assert [(m.sender, m.type.value, m.turn) for m in seen] == [
        ("talk", "team_up", None),
        ("ann", "speak", 1),
        ("ben", "speak", 2),
        ("ann", "conclusion", 3),
    ]
