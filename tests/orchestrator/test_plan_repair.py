"""Malformed and invalid plans are caught, counted and re-asked; none of them is ever executed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from weft import tool
from weft.runtime.engine.journal import Journal
from weft.runtime.orchestrator import (
    LLMPlanner,
    Orchestrator,
    OrchestratorBudget,
    PlanningError,
)
from weft.testing import OpenAIServer, ScriptedModel, Step, json_output, malformed_json


def subtask(
    sid: str, capability: str = "research facts", deps: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": sid,
        "description": f"Research part {sid}",
        "capability": capability,
        "depends_on": deps or [],
        "expected_output": "",
    }


GOOD_PLAN = {
    "subtasks": [
        subtask("alpha"),
        subtask("beta"),
        subtask("report", "write summary", ["alpha", "beta"]),
    ]
}

#: (name, planner output, kind of failure it must be counted as)
BROKEN: list[tuple[str, Step, str]] = [
    ("malformed JSON", malformed_json('{"subtasks": [{"id": "alpha", '), "malformed_json"),
    (
        "not JSON at all",
        malformed_json("Sure! Here is the plan: research, then write."),
        "malformed_json",
    ),
    (
        "missing fields",
        json_output({"subtasks": [{"id": "alpha", "description": "Research"}]}),
        "schema",
    ),
    ("wrong shape", json_output({"steps": ["research", "write"]}), "schema"),
    (
        "cycle",
        json_output({"subtasks": [subtask("a", deps=["b"]), subtask("b", deps=["a"])]}),
        "invalid_plan",
    ),
    (
        "unknown dependency",
        json_output({"subtasks": [subtask("a"), subtask("b", deps=["ghost"])]}),
        "invalid_plan",
    ),
    (
        "too many subtasks",
        json_output({"subtasks": [subtask(f"s{i}") for i in range(5)]}),
        "invalid_plan",
    ),
    ("empty plan", json_output({"subtasks": []}), "invalid_plan"),
    ("duplicate ids", json_output({"subtasks": [subtask("a"), subtask("a")]}), "invalid_plan"),
    (
        "nobody can do it",
        json_output(
            {
                "subtasks": [
                    {**subtask("a", "quantum teleportation"), "description": "Teleport the cat"}
                ]
            }
        ),
        "invalid_plan",
    ),
]


class Team:
    """Two tools that record every call, so a test can prove what ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

        @tool
        def researcher(topic: str) -> str:
            """Research facts about a topic."""
            self.calls.append(("researcher", topic))
            return f"facts: {topic}"

        @tool
        def writer(text: str) -> str:
            """Write a summary of notes."""
            self.calls.append(("writer", text))
            return f"summary of [{text}]"

        self.actions = [researcher, writer]


def orchestrator(team: Team, server: OpenAIServer, attempts: int, **options: Any) -> Orchestrator:
    return Orchestrator(
        team.actions,
        planner=LLMPlanner(base_url=server.base_url),
        budget=OrchestratorBudget(max_subtasks=4, max_plan_attempts=attempts),
        **options,
    )


@pytest.mark.parametrize(("name", "broken", "kind"), BROKEN, ids=[b[0] for b in BROKEN])
async def test_each_broken_plan_is_caught_and_the_repaired_plan_runs(
    name: str, broken: Step, kind: str
) -> None:
    team = Team()
    model = ScriptedModel([broken, json_output(GOOD_PLAN)])
    async with OpenAIServer(model) as server:
        answer = await orchestrator(team, server, attempts=2).ask("Research alpha and beta")
    assert answer.ok, answer.error
    assert [f.kind for f in answer.plan_failures] == [kind]
    # the failure was fed back to the planner in the same conversation
    assert answer.plan_failures[0].message in model.requests[1].last_user_text
    assert sorted(team.calls) == [
        ("researcher", "Research part alpha"),
        ("researcher", "Research part beta"),
        ("writer", "facts: Research part alpha\n\nfacts: Research part beta"),
    ]
    model.assert_complete()


async def test_a_run_of_broken_plans_is_counted_and_only_the_final_valid_plan_executes() -> None:
    team = Team()
    model = ScriptedModel([step for _, step, _ in BROKEN] + [json_output(GOOD_PLAN)])
    async with OpenAIServer(model) as server:
        answer = await orchestrator(team, server, attempts=len(BROKEN) + 1).ask("Research")
    assert answer.ok
    assert [f.kind for f in answer.plan_failures] == [kind for _, _, kind in BROKEN]
    assert [f.attempt for f in answer.plan_failures] == list(range(1, len(BROKEN) + 1))
    assert answer.plan is not None
    assert [s.id for s in answer.plan.subtasks] == ["alpha", "beta", "report"]
    assert len(team.calls) == 3
    assert answer.planner_usage.llm_calls == len(BROKEN) + 1
    model.assert_complete()


async def test_when_every_attempt_is_broken_nothing_runs_and_planning_fails(tmp_path: Path) -> None:
    team = Team()
    broken = [step for _, step, _ in BROKEN[:3]]
    model = ScriptedModel(broken)
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        with pytest.raises(PlanningError, match="no valid plan after 3 rejected") as caught:
            await orchestrator(
                team, server, attempts=3, journal=journal, fallback_planner="none"
            ).ask("Research")
    assert [f.kind for f in caught.value.failures] == ["malformed_json", "malformed_json", "schema"]
    assert caught.value.usage.llm_calls == 3
    assert team.calls == []
    assert journal.list_runs(10) == []
    journal.close()
    model.assert_complete()


async def test_a_planner_error_that_retries_cannot_fix_ends_planning_at_once() -> None:
    from weft.testing import error

    team = Team()
    model = ScriptedModel([error(401, "invalid api key")])
    async with OpenAIServer(model) as server:
        with pytest.raises(PlanningError, match="invalid api key") as caught:
            await orchestrator(team, server, attempts=3).ask("Research")
    assert [f.kind for f in caught.value.failures] == ["model_error"]
    assert team.calls == []


def test_the_plan_schema_sent_to_the_model_bounds_what_a_grammar_can_write() -> None:
    import re

    from weft.runtime.orchestrator.llm_planner import plan_format

    schema = plan_format(3)["json_schema"]["schema"]
    subtasks = schema["properties"]["subtasks"]
    assert (subtasks["minItems"], subtasks["maxItems"]) == (1, 3)
    pattern = schema["$defs"]["Subtask"]["properties"]["id"]["pattern"]
    assert re.match(pattern, "research_2") and not re.match(pattern, "2&#39;")
    assert not re.match(pattern, "a b")
    assert schema["$defs"]["Subtask"]["properties"]["depends_on"]["items"]["pattern"] == pattern


async def test_a_planner_that_never_answers_is_stopped_by_the_time_budget() -> None:
    """--max-time bounds the whole ask: a model server that accepts the request and never
    answers must not hold the ask for the model's own timeout and retries."""
    import asyncio

    from weft.testing import FunctionModel

    never = asyncio.Event()

    async def hang(request: Any) -> str:
        await never.wait()
        return "unreachable"

    team = Team()
    async with OpenAIServer(FunctionModel(hang)) as server:
        ask = Orchestrator(
            team.actions,
            planner=LLMPlanner(base_url=server.base_url),
            budget=OrchestratorBudget(max_time=0.5),
        )
        with pytest.raises(PlanningError, match=r"time budget exceeded: 0\.5s while pl") as caught:
            await ask.ask("Research")
        never.set()
    assert caught.value.over_budget is not None
    assert [f.kind for f in caught.value.failures] == ["budget"]
    assert team.calls == []
