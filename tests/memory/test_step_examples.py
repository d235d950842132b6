"""Reuse at step time: an agent gets its own best past steps as few-shot turns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weft import Workflow, tool
from weft.agents import LLMAgent
from weft.runtime import run_workflow
from weft.runtime.memory import ExperienceMemory, StepRecord
from weft.runtime.orchestrator import LLMPlanner, Orchestrator, Plan, Subtask
from weft.runtime.orchestrator.memory_experience import MemoryExperience
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, json_output, text

TASK = "Write a haiku about snow"


def echo_model() -> FunctionModel:
    return FunctionModel(lambda request: text("ok"))


async def run_agent(agent: LLMAgent, task: str = TASK) -> Any:
    wf = Workflow("one")
    wf.node("agent", agent, with_={"task": task})
    return await run_workflow(wf)


def turns(request: ModelRequest) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request.messages]


async def test_the_agents_own_past_steps_reach_the_model_before_the_task(tmp_path: Path) -> None:
    memory = ExperienceMemory.open(tmp_path / "m")
    memory.add_step(StepRecord(agent="poet", input="Write a haiku about rain", output="Rain..."))
    # nearer to the task, but another agent's: the poet's own pool comes first
    memory.add_step(StepRecord(agent="coder", input="Write a haiku about snowfall", output="C"))
    model = echo_model()
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "poet",
            instructions="You write poems.",
            base_url=server.base_url,
            examples=memory,
            examples_k=1,
        )
        result = await run_agent(agent)
    assert result.ok
    assert turns(model.requests[0]) == [
        ("system", "You write poems."),
        ("user", "Write a haiku about rain"),
        ("assistant", "Rain..."),
        ("user", TASK),
    ]


async def test_an_agent_with_no_steps_of_its_own_gets_the_shared_pool(tmp_path: Path) -> None:
    memory = ExperienceMemory.open(tmp_path / "m")
    memory.add_step(StepRecord(agent="coder", input="Write a haiku about code", output="Code"))
    memory.add_step(StepRecord(agent="coder", input="Poem on fog", output="bad", quality=0.1))
    model = echo_model()
    async with OpenAIServer(model) as server:
        agent = LLMAgent("poet", base_url=server.base_url, examples=memory)
        await run_agent(agent)
    assert turns(model.requests[0]) == [
        ("user", "Write a haiku about code"),
        ("assistant", "Code"),
        ("user", TASK),
    ]


async def test_examples_are_bounded_by_count_and_characters() -> None:
    seen: list[tuple[str, str | None, int]] = []

    def source(query: str, agent: str | None, k: int) -> list[Any]:
        seen.append((query, agent, k))
        return [
            {"input": "long question", "output": "x" * 500},  # over the budget: skipped
            ("short one", "a"),
            StepRecord(agent="poet", input="short two", output="b"),
            ("short three", "c"),  # over k
        ]

    model = echo_model()
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "poet", base_url=server.base_url, examples=source, examples_k=2, examples_chars=100
        )
        await run_agent(agent)
    assert seen == [(TASK, "poet", 2)]
    assert turns(model.requests[0]) == [
        ("user", "short one"),
        ("assistant", "a"),
        ("user", "short two"),
        ("assistant", "b"),
        ("user", TASK),
    ]


async def test_a_failing_source_costs_the_examples_not_the_call() -> None:
    def broken(query: str, agent: str | None, k: int) -> list[Any]:
        raise OSError("store is down")

    model = echo_model()
    async with OpenAIServer(model) as server:
        result = await run_agent(LLMAgent("poet", base_url=server.base_url, examples=broken))
    assert result.ok
    assert turns(model.requests[0]) == [("user", TASK)]


@tool
def translate(task: str) -> str:
    """Translate a document into another language."""
    return f"translated: {task}"


async def test_an_ask_with_step_memory_fills_the_acting_agents_pool(tmp_path: Path) -> None:
    memory = ExperienceMemory.open(tmp_path / "m")
    store = MemoryExperience(memory, steps=True)
    plan = Plan(
        subtasks=[Subtask(id="tr", description="Translate the guide into Spanish", capability="x")]
    )
    async with OpenAIServer(FunctionModel(lambda r: json_output(plan))) as server:
        orchestrator = Orchestrator(
            [translate], planner=LLMPlanner(base_url=server.base_url), experience=store
        )
        answer = await orchestrator.ask("Translate the guide into Spanish")
    assert answer.ok
    [step] = memory.examples("Translate the manual into French", agent="translate", k=3)
    assert (step.agent, step.input) == ("translate", "Translate the guide into Spanish")
    assert step.output == "translated: Translate the guide into Spanish"


def test_a_step_recorded_again_is_one_example_not_several(tmp_path: Path) -> None:
    """An ask repeated (or its plan reused) records the same step each time: the pool keeps
    it once, and an agent's k examples are k different pairs."""
    memory = ExperienceMemory.open(tmp_path / "m")
    for _ in range(3):
        memory.add_step(StepRecord(agent="poet", input="Write a haiku about rain", output="R"))
    memory.add_step(StepRecord(agent="critic", input="Write a haiku about rain", output="R"))
    memory.add_step(StepRecord(agent="poet", input="Write a haiku about fog", output="F"))
    memory.add_step(StepRecord(agent="poet", input="Write a limerick about ice", output="I"))
    got = memory.examples(TASK, agent="poet", k=3)
    assert sorted(s.output for s in got) == ["F", "I", "R"]
    assert memory.steps.count() == 4  # the poet's rain step once, the critic's copy apart
