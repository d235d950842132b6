"""Parallel LLM calls: a ``foreach`` of N LLM nodes against a local server answering in D s.

    python bench/llm_fanout.py                 # 40 calls of 1 s, 3 rounds
    python bench/llm_fanout.py --calls 100 --delay 0.5

The server is ``weft.testing.OpenAIServer`` (the real ``openai`` client talks to it over
loopback HTTP); every answer waits ``--delay`` seconds, so the ideal wall time is about
one delay. What is over it is weft's own cost per call on the event loop: found by
this script, each call's client used to load the TLS certificates on the loop
(40 calls of 1 s took 5-12 s; bench/RESULTS.md, "LLM calls in parallel").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import weft
from weft.agents import LLMAgent
from weft.testing import FunctionModel, OpenAIServer, text
from weft.testing.models import ModelRequest


@weft.tool
def items(n: int) -> list[int]:
    """The numbers 0 .. n-1: one LLM call each."""
    return list(range(n))


async def measure(calls: int, delay: float, rounds: int) -> list[float]:
    async def answer(_: ModelRequest) -> object:
        await asyncio.sleep(delay)
        return text("ok")

    async with OpenAIServer(FunctionModel(answer)) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", api_key="k")
        flow = weft.Workflow("fan")
        source = flow.node("source", items, with_={"n": calls})
        flow.node("each", agent, after=source, foreach="${source}", with_={"task": "item ${item}"})
        await weft.run_workflow(agent, {"task": "warm up"}, record=False)  # imports openai
        walls = []
        for _ in range(rounds):
            started = time.perf_counter()
            result = await weft.run_workflow(flow, record=False)
            walls.append(time.perf_counter() - started)
            if result.state.value != "succeeded":
                raise SystemExit(f"the run ended {result.state.value}")
        return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    walls = asyncio.run(measure(args.calls, args.delay, args.rounds))
    shown = ", ".join(f"{w:.2f}" for w in walls)
    print(
        f"{args.calls} parallel LLM calls of {args.delay:g} s: {shown} s (ideal ~{args.delay:g} s)"
    )


if __name__ == "__main__":
    main()
