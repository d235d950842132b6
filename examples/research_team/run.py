"""Ask the research team a question: ``python examples/research_team/run.py "task"``.

Needs a model: ``OPENAI_API_KEY`` (OpenAI) or ``OPENAI_BASE_URL`` (any
OpenAI-compatible server), and ``WEFT_MODEL`` to pick the model.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agents import build_orchestrator

from weft import WeftError
from weft.agents import llm_configured

DEFAULT_TASK = (
    "Write a short briefing on residential heat pumps: how they work, what one costs to run "
    "per year compared with a gas boiler, and the main drawbacks."
)


async def main(task: str) -> int:
    try:
        answer = await build_orchestrator().ask(task)
    except WeftError as exc:  # no plan: the model failed for good, or answered nothing valid
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    if not answer.ok:
        print(f"failed: {answer.error}", file=sys.stderr)
        return 1
    print(answer.answer)
    usage = answer.usage
    print(
        f"\nrun {answer.run_id} · {len(answer.plan.subtasks) if answer.plan else 0} subtasks · "
        f"{usage.llm_calls} LLM calls · {usage.prompt_tokens + usage.completion_tokens} tokens · "
        f"${usage.cost:.4f} · {len(answer.plan_failures)} rejected plan(s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    if not llm_configured():
        sys.exit(
            "set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (a compatible server), "
            "and WEFT_MODEL to choose the model"
        )
    sys.exit(asyncio.run(main(" ".join(sys.argv[1:]) or DEFAULT_TASK)))
