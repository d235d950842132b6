"""The research team example, against scripted models over the real openai client.

One scripted conversation serves the whole team (planner, four specialists,
the synthesis step), telling them apart by their system prompts. It runs
through the Python API and through ``weft ask`` with ``--base-url``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from weft.agents import DEFAULT_PRICES
from weft.cli import cli
from weft.testing import (
    FunctionModel,
    ModelRequest,
    OpenAIServer,
    Reply,
    json_output,
    text,
    tool_call,
)

ROOT = Path(__file__).resolve().parents[2]
AGENTS_FILE = ROOT / "examples" / "research_team" / "agents.py"

PLAN = {
    "subtasks": [
        {
            "id": "research",
            "description": "Gather facts on how residential heat pumps work, with sources",
            "capability": "research cite sources",
            "depends_on": [],
            "expected_output": "bullet points with citations",
        },
        {
            "id": "costs",
            "description": "Estimate the yearly running cost of a heat pump against a gas boiler",
            "capability": "cost estimates statistics",
            "depends_on": [],
            "expected_output": "",
        },
        {
            "id": "draft",
            "description": "Write a short briefing from the research and the cost estimate",
            "capability": "writing drafting reports",
            "depends_on": ["research", "costs"],
            "expected_output": "",
        },
        {
            "id": "review",
            "description": "Review the briefing for accuracy and clarity",
            "capability": "review critique",
            "depends_on": ["draft"],
            "expected_output": "",
        },
    ]
}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("research_team_agents", AGENTS_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TeamScript:
    """Answers as each member of the team would, and keeps the books."""

    def __init__(self, *, barrier: bool) -> None:
        self.served: list[tuple[str, str, int, int]] = []  # role, model, prompt, completion
        self.parallel = asyncio.Event() if barrier else None
        self.first_turns: set[str] = set()
        self.model = FunctionModel(self.answer)

    def reply(self, role: str, request: ModelRequest, make: Any, *args: Any) -> Reply:
        n = len(self.served) + 1
        usage = (50 + 10 * n, 5 + n)
        self.served.append((role, request.model, *usage))
        result: Reply = make(*args, usage=usage)
        return result

    async def answer(self, request: ModelRequest) -> Reply:
        system = request.system
        results = request.tool_results()
        if system.startswith("You are the planner"):
            return self.reply("planner", request, json_output, PLAN)
        if system.startswith("You combine"):
            return self.reply("synthesis", request, text, "Heat pumps: efficient, cheaper to run.")
        if system.startswith("You are the researcher"):
            if not results:
                await self.meet("researcher")
                citation = {"title": "Heat pumps explained", "authors": ["A. Lee"], "year": 2023}
                return self.reply("researcher", request, tool_call, "format_citation", citation)
            return self.reply(
                "researcher", request, text, f"- COP of 3 to 4 [{results[0]['content']}]"
            )
        if system.startswith("You are the analyst"):
            if not results:
                await self.meet("analyst")
                expression = {"expression": "12000 / 4 * 0.25"}
                return self.reply("analyst", request, tool_call, "calculate", expression)
            return self.reply(
                "analyst", request, text, f"Heat pump: {results[0]['content']} per year"
            )
        if system.startswith("You are the writer"):
            if not results:
                return self.reply(
                    "writer", request, tool_call, "word_count", {"text": "draft text"}
                )
            return self.reply("writer", request, text, "Heat pumps move heat instead of making it.")
        if system.startswith("You are the critic"):
            review = {"approved": True, "issues": [], "summary": "Accurate and clear."}
            return self.reply("critic", request, json_output, review)
        raise AssertionError(f"unexpected request, system prompt: {system[:60]!r}")

    async def meet(self, role: str) -> None:
        """Hold the first researcher and analyst requests until both have arrived."""
        if self.parallel is None:
            return
        self.first_turns.add(role)
        if self.first_turns >= {"researcher", "analyst"}:
            self.parallel.set()
        await asyncio.wait_for(self.parallel.wait(), timeout=5)

    def tokens(self) -> tuple[int, int, int]:
        return (
            len(self.served),
            sum(p for _, _, p, _ in self.served),
            sum(c for _, _, _, c in self.served),
        )


async def test_the_research_team_plans_routes_runs_in_parallel_and_synthesises() -> None:
    team = load_example()
    script = TeamScript(barrier=True)
    async with OpenAIServer(script.model) as server:
        from weft.agents import model_defaults

        with model_defaults(base_url=server.base_url, model="gpt-4o-mini"):
            answer = await team.build_orchestrator().ask("Brief me on heat pumps")

    assert answer.ok, answer.error
    assert answer.answer == "Heat pumps: efficient, cheaper to run."
    assert answer.routes == {
        "research": "researcher",
        "costs": "analyst",
        "draft": "writer",
        "review": "critic",
    }
    # the researcher and the analyst were in flight together (the barrier let them through)
    assert script.parallel is not None and script.parallel.is_set()
    # the tool agents really ran, as tools of the specialists
    assert answer.results["research"] == "- COP of 3 to 4 [A. Lee (2023). Heat pumps explained.]"
    assert answer.results["costs"] == "Heat pump: 750.0 per year"
    assert answer.results["review"] == {
        "approved": True,
        "issues": [],
        "summary": "Accurate and clear.",
    }
    # the ledger adds up exactly: every request served == the answer's usage
    calls, prompt, completion = script.tokens()
    assert calls == 1 + 2 + 2 + 2 + 1 + 1
    assert (answer.usage.llm_calls, answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        calls,
        prompt,
        completion,
    )
    price = DEFAULT_PRICES["gpt-4o-mini"]
    expected_cost = sum(price.cost(p, c) for _, _, p, c in script.served)
    assert answer.usage.cost == pytest.approx(expected_cost, rel=1e-12)
    assert script.model.errors == []


def test_weft_ask_runs_the_team_against_a_base_url(tmp_path: Path) -> None:
    script = TeamScript(barrier=False)
    with OpenAIServer(script.model) as server:
        result = CliRunner().invoke(
            cli,
            [
                "ask",
                "Brief me on heat pumps",
                "--agents",
                f"{AGENTS_FILE}:agents",
                "--base-url",
                server.base_url,
                "--model",
                "gpt-4o-mini",
                "--journal",
                str(tmp_path / "journal.db"),
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["state"] == "succeeded"
    assert answer["answer"] == "Heat pumps: efficient, cheaper to run."
    assert answer["routes"]["review"] == "critic"
    assert answer["usage"]["llm_calls"] == len(script.served)
    assert {role for role, *_ in script.served} == {
        "planner",
        "researcher",
        "analyst",
        "writer",
        "critic",
        "synthesis",
    }
    assert {model for _, model, *_ in script.served} == {"gpt-4o-mini"}
