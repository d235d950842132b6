"""An ask that fails before its workflow runs (planning, routing, compiling) ends its trace."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft import tool
from weft.cli import cli
from weft.runtime.orchestrator import LLMPlanner, Orchestrator, PlanningError
from weft.runtime.orchestrator.planners import PlanOutcome, PlanRequest
from weft.runtime.tracing.store import TraceStore
from weft.testing import OpenAIServer, ScriptedModel, error, malformed_json

TEAM = '''
from weft import tool

@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic

agents = [research]
'''


@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic


class BrokenPlanner:
    """A planner with a bug in it."""

    async def plan(self, request: PlanRequest) -> PlanOutcome:
        raise RuntimeError("the planner fell over")


class StuckPlanner:
    """A planner that never answers until it is cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def plan(self, request: PlanRequest) -> PlanOutcome:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_planning_error_ends_the_trace_as_failed_with_the_planner_calls(
    tmp_path: Path,
) -> None:
    model = ScriptedModel([malformed_json()] * 3)
    store = TraceStore(tmp_path / "traces.db")
    async with OpenAIServer(model) as server:
        orchestrator = Orchestrator(
            [research],
            planner=LLMPlanner(base_url=server.base_url),
            tracer=store,
            fallback_planner="none",
        )
        with pytest.raises(PlanningError):
            await orchestrator.ask("Research otters", run_id="a" * 32)
    store.close()
    with TraceStore(tmp_path / "traces.db") as store:
        run = store.get_run("a" * 32)
        spans = store.spans(run.run_id)
    assert run.state == "failed" and run.workflow == "ask" and run.finished_at is not None
    [root] = [s for s in spans if s.kind == "run"]
    assert root.attributes["error"]["type"] == "PlanningError"
    assert root.attributes["input"] == {"task": "Research otters"}
    assert root.attributes["weft.stage"] == "plan"
    assert [f["kind"] for f in root.attributes["weft.plan_failures"]] == ["malformed_json"] * 3
    assert root.attributes["usage"]["llm_calls"] == 3
    assert len([s for s in spans if s.kind == "llm"]) == 3  # every rejected answer is there


async def test_a_planner_that_raises_ends_the_trace_as_failed_with_its_traceback(
    tmp_path: Path,
) -> None:
    with TraceStore(tmp_path / "traces.db") as store:
        orchestrator = Orchestrator([research], planner=BrokenPlanner(), tracer=store)
        with pytest.raises(RuntimeError):
            await orchestrator.ask("Research otters", run_id="b" * 32)
        run = store.get_run("b" * 32)
        root, plan = sorted(store.spans(run.run_id), key=lambda s: s.kind != "run")
    assert run.state == "failed"
    assert plan.kind == "plan" and plan.parent_id == root.span_id and plan.status == "error"
    error = root.attributes["error"]
    assert error["type"] == "RuntimeError" and "the planner fell over" in error["message"]
    assert "in plan" in error["details"]["traceback"]


async def test_an_ask_cancelled_while_planning_ends_its_trace_as_cancelled(
    tmp_path: Path,
) -> None:
    planner = StuckPlanner()
    with TraceStore(tmp_path / "traces.db") as store:
        orchestrator = Orchestrator([research], planner=planner, tracer=store)
        task = asyncio.create_task(orchestrator.ask("Research otters", run_id="c" * 32))
        await asyncio.wait_for(planner.started.wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert store.get_run("c" * 32).state == "cancelled"


async def test_a_run_that_started_keeps_the_executors_own_run_span(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "traces.db") as store:
        answer = await Orchestrator([research], tracer=store).ask("Research otters")
        spans = store.spans(answer.run_id)
        assert store.get_run(answer.run_id).state == "succeeded"
    [root] = [s for s in spans if s.kind == "run"]
    assert root.status == "succeeded" and "weft.stage" not in root.attributes


def test_weft_ask_with_a_failing_planner_leaves_a_failed_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "home"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    team = tmp_path / "team.py"
    team.write_text(TEAM)
    # a model that refuses for good: no fallback planner for a configuration error
    model = ScriptedModel([error(401, "invalid api key")])
    runner = CliRunner()
    with OpenAIServer(model) as server:
        asked = runner.invoke(
            cli,
            ["ask", "Research otters", "--agents", str(team), "--planner", "llm"],
            env={"OPENAI_BASE_URL": server.base_url},
        )
    assert asked.exit_code == 2, asked.output
    assert "error: no valid plan" in asked.output
    listed = runner.invoke(cli, ["trace", "ls", "--json"])
    assert listed.exit_code == 0, listed.output
    [run] = json.loads(listed.stdout)
    assert (run["workflow"], run["state"]) == ("ask", "failed")
    shown = runner.invoke(cli, ["trace", "show", "last"])
    assert "✗ PlanningError: no valid plan after 1 rejected planner answer(s)" in shown.stdout
    assert "→ user: Research otters" in shown.stdout  # the planner's requests are in the trace
