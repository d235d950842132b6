"""A borderline reuse is confirmed with one short model call (weft.testing's local server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from weft import tool
from weft.agents import ChatModel, ModelSettings
from weft.runtime.memory import ExperienceMemory, MemoryRecord, single_subtask_plan
from weft.runtime.orchestrator import LLMPlanner, Orchestrator, Plan, Subtask
from weft.runtime.orchestrator.memory_experience import (
    CONFIRM_PROMPT,
    LLMConfirm,
    MemoryExperience,
)
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, json_output

PAST = "Prepare an agenda for the board meeting on Friday"
#: the same operation and deliverable about another subject: reused, but borderline
NEW = "Prepare an agenda for the sales kickoff on Thursday"
CONFIRM_HEAD = CONFIRM_PROMPT.split("{", 1)[0]


@tool
def agenda(task: str) -> str:
    """Write meeting agendas."""
    return f"agenda: {task}"


def plan_for(task: str) -> object:
    return json_output(Plan(subtasks=[Subtask(id="a", description=task, capability="agenda")]))


@pytest.mark.parametrize("verdict", ["yes", "no"])
async def test_a_borderline_match_asks_the_model_once_and_follows_its_answer(
    tmp_path: Path, verdict: str
) -> None:
    store = ExperienceMemory.open(tmp_path / "m")
    past = MemoryRecord(task=PAST, plan=single_subtask_plan(PAST), outcome="good")
    store.add(past)
    decision, _ = store.match(NEW)
    assert decision.record_id == past.id and decision.borderline

    def answer(request: ModelRequest) -> object:
        if request.last_user_text.startswith(CONFIRM_HEAD):
            assert PAST in request.last_user_text and NEW in request.last_user_text
            return verdict
        return plan_for(request.last_user_text)

    model = FunctionModel(answer)
    async with OpenAIServer(model) as server:
        chat = ChatModel(ModelSettings(base_url=server.base_url, model="m", api_key="k"))
        confirm = LLMConfirm(chat)
        orchestrator = Orchestrator(
            [agenda],
            planner=LLMPlanner(base_url=server.base_url, model="m"),
            experience=MemoryExperience(store, confirm=confirm),
        )
        got = await orchestrator.ask(NEW)
    asks = [r for r in model.requests if r.last_user_text.startswith(CONFIRM_HEAD)]
    assert len(asks) == 1 and confirm.usage.llm_calls == 1
    assert got.ok
    if verdict == "yes":  # reused: the one short call instead of the planner
        assert got.reuse is not None and got.reuse["record"] == past.id
        assert "confirmed by the model" in got.reuse["why"]
        assert len(model.requests) == 1  # the planner was not called
        assert got.planner_usage.llm_calls == 1  # the confirming call is counted as planning
    else:  # refused: the planner runs (the past plan is only a hint)
        assert got.reuse is None and got.planner_usage.llm_calls == 1
        assert len(model.requests) == 2
        assert "board meeting" in json.dumps(model.requests[1].messages)  # the hint


def test_a_clear_match_needs_no_confirmation(tmp_path: Path) -> None:
    store = ExperienceMemory.open(tmp_path / "m")
    store.add(MemoryRecord(task=PAST, plan=single_subtask_plan(PAST)))
    decision, _ = store.match("Prepare an agenda for the board meeting on Monday")
    assert decision.reuse and not decision.borderline
