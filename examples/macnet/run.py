"""Run the writing team: ``python examples/macnet/run.py [--offline] ["task"]``.

With a model configured (``OPENAI_API_KEY`` or ``OPENAI_BASE_URL``, and
``WEFT_MODEL``) the agents call it; with ``--offline``, or when none is
configured, they call scripted answers served on loopback (``writing_answers.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from writing_answers import scripted_model
from writing_team import build

from weft.agents import llm_configured, model_defaults
from weft.protocols import EventKind, RunEvent
from weft.runtime.engine.runner import run_workflow
from weft.testing import OpenAIServer

DEFAULT_TASK = "Announce weft's new network-of-agents mode to its users"


@dataclass
class Reviews:
    """What the critics did during a run: every review, and the send-backs among them."""

    verdicts: list[tuple[str, int, bool]] = field(default_factory=list)

    def on_event(self, event: RunEvent) -> None:
        if event.kind is EventKind.PROGRESS and "critic" in event.data:
            review = event.data.get("review") or {}
            self.verdicts.append(
                (event.key or "", event.data["round"], bool(review.get("approved")))
            )

    @property
    def sent_back(self) -> int:
        return sum(1 for _, _, approved in self.verdicts if not approved)


async def run_team(task: str, *, nodes: int = 5, seed: int = 1, record: bool = False) -> Any:
    """Run the team on ``task``; returns ``(RunResult, Reviews)``."""
    reviews = Reviews()
    result = await run_workflow(
        build(nodes=nodes, seed=seed),
        {"task": task},
        listeners=[reviews.on_event],
        record=record,
    )
    return result, reviews


@asynccontextmanager
async def offline() -> AsyncIterator[None]:
    """Inside it, the agents call the scripted answers, served on loopback.

    The answers depend on each request's content only, so the team writes the
    same text whatever order its calls come in (e.g. on another engine).
    """
    async with OpenAIServer(scripted_model()) as server:
        with model_defaults(base_url=server.base_url, model="macnet-offline", api_key="offline"):
            yield


async def run_offline(task: str, **options: Any) -> Any:
    """``run_team`` against the scripted answers (``offline``)."""
    async with offline():
        return await run_team(task, **options)


def report(result: Any, reviews: Reviews) -> None:
    for name, text in result.outputs.items():
        print(f"--- {name}\n{text}\n")
    print(
        f"run {result.run_id} {result.state.value}: {len(result.nodes)} agents, "
        f"{len(reviews.verdicts)} reviews, {reviews.sent_back} sent back, "
        f"{result.usage.llm_calls} LLM calls",
        file=sys.stderr,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("task", nargs="*", help="What to write.")
    parser.add_argument("--offline", action="store_true", help="Use the scripted answers.")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    task = " ".join(args.task) or DEFAULT_TASK
    offline = args.offline or not llm_configured()
    if offline and not args.offline:
        print(
            "no model configured: using the scripted answers (writing_answers.py)", file=sys.stderr
        )
    go = run_offline if offline else run_team
    result, reviews = asyncio.run(go(task, nodes=args.nodes, seed=args.seed, record=True))
    report(result, reviews)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
