"""Reuse at planning time: a task like a past successful one runs its plan without the planner."""

from __future__ import annotations

from pathlib import Path

from weft import tool
from weft.runtime.memory import ExperienceMemory
from weft.runtime.orchestrator import LLMPlanner, Orchestrator, Plan, Subtask
from weft.runtime.orchestrator.memory_experience import MemoryExperience
from weft.runtime.tracing.spans import MemoryTracer
from weft.testing import FunctionModel, OpenAIServer, json_output


@tool
def translate(task: str) -> str:
    """Translate a document into another language."""
    return f"translated: {task}"


async def test_a_parameter_change_reuses_the_plan_and_saves_the_planner_call(
    tmp_path: Path,
) -> None:
    memory = MemoryExperience(ExperienceMemory.open(tmp_path / "m"))

    def plan_for(request: object) -> object:
        return json_output(
            Plan(
                subtasks=[
                    Subtask(
                        id="tr",
                        description="Translate the onboarding guide into Spanish",
                        capability="translate",
                    )
                ]
            )
        )

    model = FunctionModel(plan_for)
    tracer = MemoryTracer()
    async with OpenAIServer(model) as server:
        orchestrator = Orchestrator(
            [translate],
            planner=LLMPlanner(base_url=server.base_url),
            experience=memory,
            tracer=tracer,
        )
        first = await orchestrator.ask("Translate the onboarding guide into Spanish")
        second = await orchestrator.ask("Translate the onboarding guide into Japanese")
        third = await orchestrator.ask("Summarize the onboarding guide")
    assert first.ok and first.reuse is None and first.planner_usage.llm_calls == 1
    assert second.ok and second.planner_usage.llm_calls == 0
    assert second.reuse is not None and second.reuse["saved_llm_calls"] == 1
    assert second.plan is not None
    assert second.plan.subtasks[0].description == "Translate the onboarding guide into Japanese"
    assert third.reuse is None  # another operation: planned afresh
    assert len(model.requests) == 2
    spans = [s for s in tracer.spans if s.kind == "memory"]
    assert spans and spans[0].attributes["weft.memory.record"] == second.reuse["record"]
    records = memory.memory.records()
    assert len(records) == 3
    assert memory.memory.get(second.reuse["record"]).uses == 1
