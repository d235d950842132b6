"""Run the launch team: ``python examples/team/run.py [--offline] [--broker URL] ["topic"]``.

The team's conversation is printed as it happens, read from the team topic by
a second client, as ``mosquitto_sub -t 'weft/default/teams/#'`` would see it.
With a model configured (``OPENAI_API_KEY`` or ``OPENAI_BASE_URL``, and
``WEFT_MODEL``) the members call it; with ``--offline``, or when none is
configured, they call scripted answers on loopback (``scripted_answers.py``).
``--broker mqtt://127.0.0.1:1883`` carries the conversation over MQTT.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from launch_team import build_team
from scripted_answers import scripted_model

from weft.agents import llm_configured, model_defaults
from weft.protocols.teams import MessageType, TeamMessage, TeamOutcome
from weft.runtime.bus.base import Bus
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.testing import OpenAIServer

DEFAULT_TOPIC = "weft's new team mode"


def line(message: TeamMessage) -> str:
    """One message of the transcript."""
    who = (
        f"turn {message.turn:>2} {message.sender}" if message.turn else f"        {message.sender}"
    )
    extra = ""
    if message.tasks:
        extra = " " + ", ".join(f"{t.id}→{t.to} ({t.mode})" for t in message.tasks)
    if message.wait_for:
        extra += f" waits for {', '.join(message.wait_for)}"
    if message.vote:
        extra += f" {message.vote}"
    lost, error = message.data.get("lost"), message.data.get("error")
    if lost:  # a member failed: say why, or a team that stops early looks like it had nothing
        why = f"{error.get('type')}: {error.get('message')}" if isinstance(error, dict) else "?"
        extra += f" {lost} lost ({why[:200]})"
    text = message.text.replace("\n", "; ")
    return f"[{message.state.value:<10}] {who}: {message.type.value}{extra}  {text[:110]}"


async def _buses(broker_url: str | None) -> tuple[Bus, Bus]:
    if broker_url:
        from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

        return MqttBus(broker_url), MqttBus(broker_url)
    broker = InProcessBroker()
    return InProcessBus(broker), InProcessBus(broker)


async def run_team(
    topic: str,
    *,
    broker_url: str | None = None,
    show: Callable[[str], Any] = print,
    seen: Callable[[TeamMessage], Any] = lambda message: None,
) -> tuple[TeamOutcome, list[TeamMessage]]:
    """Run the team on ``topic``; returns its outcome and the transcript seen on its topic.

    ``show`` prints each message's line; ``seen`` is given each message as it arrives.
    """
    bus, watcher = await _buses(broker_url)
    async with bus, watcher:
        transcript: list[TeamMessage] = []
        sub = await watcher.subscribe(f"{watcher.topics.prefix}/teams/+")

        grew = asyncio.Event()

        async def watch() -> None:
            async for raw in sub:
                message = TeamMessage.model_validate_json(raw.payload)
                transcript.append(message)
                grew.set()
                show(line(message))
                seen(message)

        watching = asyncio.create_task(watch())
        outcome = await build_team(bus=bus).run(f"Write a short launch note about {topic}.")
        async with asyncio.timeout(10):  # the watcher may be a few messages behind
            while len(transcript) < outcome.messages:
                grew.clear()
                await grew.wait()
        await sub.close()
        await watching
    return outcome, transcript


@asynccontextmanager
async def scripted(paused: asyncio.Event) -> AsyncIterator[None]:
    """Inside it, the members call the scripted answers on loopback; the research
    answers once ``paused`` is set."""
    async with OpenAIServer(scripted_model(paused)) as server:
        with model_defaults(base_url=server.base_url, model="team-offline", api_key="offline"):
            yield


def releaser(paused: asyncio.Event) -> Callable[[TeamMessage], None]:
    """What sets ``paused`` when the lead's pause appears on the team topic."""

    def release(message: TeamMessage) -> None:
        if message.type is MessageType.PAUSE:
            paused.set()

    return release


async def run_offline(topic: str, **options: Any) -> tuple[TeamOutcome, list[TeamMessage]]:
    """``run_team`` with the scripted answers served on loopback."""
    paused = asyncio.Event()
    async with scripted(paused):
        return await run_team(topic, seen=releaser(paused), **options)


@asynccontextmanager
async def offline() -> AsyncIterator[Bus]:
    """The scripted answers, and a bus for the team whose topic is watched for the pause.

    Run ``launch_team.build_workflow(bus=...)`` inside it, on either engine.
    """
    paused = asyncio.Event()
    bus, watcher = await _buses(None)
    async with scripted(paused), bus, watcher:
        sub = await watcher.subscribe(f"{watcher.topics.prefix}/teams/+")
        release = releaser(paused)

        async def watch() -> None:
            async for raw in sub:
                release(TeamMessage.model_validate_json(raw.payload))

        watching = asyncio.create_task(watch())
        try:
            yield bus
        finally:
            await sub.close()
            await watching


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("topic", nargs="*", help="What the launch note is about.")
    parser.add_argument("--offline", action="store_true", help="Use the scripted answers.")
    parser.add_argument("--broker", help="MQTT broker URL for the team topic.")
    args = parser.parse_args()
    topic = " ".join(args.topic) or DEFAULT_TOPIC
    offline = args.offline or not llm_configured()
    if offline and not args.offline:
        print("no model configured: using the scripted answers", file=sys.stderr)
    go = run_offline if offline else run_team
    outcome, _ = asyncio.run(go(topic, broker_url=args.broker))
    print(f"\n{outcome.conclusion}\n")
    print(
        f"conversation {outcome.conversation}: {outcome.reason} after {outcome.turns} turns, "
        f"{outcome.messages} messages; states {' → '.join(s.value for s in outcome.states)}",
        file=sys.stderr,
    )
    return 0 if outcome.reason in ("concluded", "vote") else 1


if __name__ == "__main__":
    sys.exit(main())
