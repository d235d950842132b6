"""Team conversation benchmark: one IoA team of 100 members holds a 1,000-turn conversation.

    python bench/teams.py                 # in process, then over weft's own Mosquitto
    python bench/teams.py --members 20 --turns 200

Each member is a no-op scripted function (it speaks, and every hundredth turn it
hands the next seat a sync task), so the figures are the team's own cost: the
flow-control state machine, one speaker per turn, a message published on the
team's topic and read back for each turn. Results (time, turns per second, peak
traced memory) are appended to bench/RESULTS.md with the machine and date.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bus import machine  # noqa: E402  (bench/bus.py: one description of the machine)

from weft import tool  # noqa: E402
from weft.runtime.bus import InProcessBroker, InProcessBus, MosquittoBroker, MqttBus  # noqa: E402
from weft.runtime.teams import Team  # noqa: E402


def members(count: int) -> list[Any]:
    """``count`` scripted members: each speaks; every hundredth turn, a sync task for the next."""
    names = [f"m{i:03d}" for i in range(count)]

    def member(name: str) -> Any:
        async def answer(task: str, context: dict[str, Any]) -> Any:
            if context["mode"] == "task":
                return f"checked by {name}"
            turn = context["turn"]
            if turn % 100 == 50:
                nxt = names[(names.index(name) + 1) % count]
                return {"act": "assign", "tasks": [{"to": nxt, "task": f"check {turn}"}]}
            return {"act": "speak", "text": f"{name} at {turn}"}

        answer.__name__ = name
        return tool(name=name)(answer)

    return [member(n) for n in names]


async def converse(bus: Any, count: int, turns: int) -> tuple[float, int]:
    """Seconds the conversation took, and the turns it held."""
    team = Team("crowd", members(count), max_turns=turns, window=10, bus=bus)
    started = time.perf_counter()
    outcome = await team.run("talk for a long time")
    return time.perf_counter() - started, outcome.turns


async def once(transport: str, count: int, turns: int) -> tuple[float, int]:
    if transport == "in-process":
        async with InProcessBus(InProcessBroker()) as bus:
            return await converse(bus, count, turns)
    async with MosquittoBroker() as broker, MqttBus(broker.url) as bus:
        return await converse(bus, count, turns)


async def measure(transport: str, count: int, turns: int) -> str:
    """One timed conversation, then one under tracemalloc for its peak (tracing slows it)."""
    seconds, held = await once(transport, count, turns)
    tracemalloc.start()
    await once(transport, count, turns)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return (
        f"| {transport} | {count} | {held:,} | {seconds:.2f} | {held / seconds:,.0f} | {peak:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    rows = [asyncio.run(measure(t, args.members, args.turns)) for t in ("in-process", "mqtt")]
    table = "\n".join(
        [
            "| bus | members | turns | seconds | turns/s | peak traced MiB |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    print(table)
    command = " ".join(["python bench/teams.py", *(argv or sys.argv[1:])])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with args.results.open("a") as f:
        f.write(
            f"\n## Team conversation benchmark, {stamp}\n\n- command: `{command}`\n"
            f"- machine: {machine()}\n- mqtt: weft's own Mosquitto (weft's config, "
            "TCP_NODELAY), the team's topic `weft/default/teams/crowd-...`\n\n"
            f"{table}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
