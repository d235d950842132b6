"""Executor behaviour: dataflow scheduling, joins, conditions, loops, retries, failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from weft import ActionFailed, JoinSpec, NodeState, RetryPolicy, RunState, Workflow, tool
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    EventKind,
    RunEvent,
)
from weft.runtime import run_workflow


@tool
def add(a: int, b: int = 0) -> int:
    return a + b


@tool
def echo(value: Any) -> Any:
    return value


async def test_a_node_starts_as_soon_as_its_own_inputs_are_ready() -> None:
    # The slow branch only finishes after the fast branch's *successor* ran:
    # an executor with a superstep barrier would deadlock here.
    successor_ran = asyncio.Event()

    @tool
    async def slow() -> str:
        await asyncio.wait_for(successor_ran.wait(), timeout=5)
        return "slow"

    @tool
    async def fast() -> str:
        return "fast"

    @tool
    async def after_fast(value: str) -> str:
        successor_ran.set()
        return value + "!"

    wf = Workflow("no-barrier")
    wf.node("slow", slow)
    wf.node("fast", fast)
    wf.node("after_fast", after_fast, after=["fast"])
    result = await run_workflow(wf)
    assert result.state is RunState.SUCCEEDED
    assert result.outputs == {"slow": "slow", "after_fast": "fast!"}


async def test_references_pass_predecessor_outputs_and_inputs() -> None:
    wf = Workflow("refs")
    wf.input("x", type="integer", default=1)
    wf.node("one", add, with_={"a": "${inputs.x}", "b": 10})
    wf.node("two", add, after=["one"], with_={"a": "${one}", "b": "${inputs.x}"})
    wf.output("total", "${two}")
    result = await run_workflow(wf, {"x": 5})
    assert result.outputs == {"total": 20}


async def test_a_node_without_arguments_gets_its_input_in_its_single_parameter() -> None:
    wf = Workflow("implicit")
    wf.node("one", add, with_={"a": 2, "b": 3})
    wf.node("two", echo, after=["one"])
    result = await run_workflow(wf)
    assert result.outputs == {"two": 5}


async def test_foreach_runs_once_per_item_and_keeps_order() -> None:
    started: list[int] = []

    @tool
    async def square(n: int) -> int:
        started.append(n)
        await asyncio.sleep(0.001 * (5 - n))
        return n * n

    wf = Workflow("fanout")
    wf.node("items", echo, with_={"value": [1, 2, 3, 4]})
    wf.node("squares", square, after=["items"], foreach="${items}", with_={"n": "${item}"})
    result = await run_workflow(wf)
    assert result.outputs == {"squares": [1, 4, 9, 16]}
    assert sorted(started) == [1, 2, 3, 4]


async def test_foreach_respects_its_concurrency_bound() -> None:
    running = 0
    peak = 0

    @tool
    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1
        return n

    wf = Workflow("bounded")
    wf.node("items", echo, with_={"value": list(range(20))})
    wf.node("work", work, after=["items"], foreach="${items}", with_={"n": "${item}"},
            concurrency=3)  # fmt: skip
    result = await run_workflow(wf)
    assert result.ok
    assert peak == 3


async def test_join_all_reduces_inputs_with_the_named_reducer() -> None:
    wf = Workflow("join")
    wf.node("a", echo, with_={"value": "alpha"})
    wf.node("b", echo, with_={"value": "beta"})
    wf.node("both", echo, after=["a", "b"], join=JoinSpec(reducer="concat"),
            with_={"value": "${input}"})  # fmt: skip
    result = await run_workflow(wf)
    assert result.outputs == {"both": "alpha\n\nbeta"}


async def test_join_any_starts_on_the_first_input_without_waiting_for_the_rest() -> None:
    release = asyncio.Event()

    @tool
    async def slow() -> str:
        await asyncio.wait_for(release.wait(), timeout=5)
        return "slow"

    @tool
    async def first(value: Any) -> Any:
        release.set()
        return value

    wf = Workflow("any")
    wf.node("slow", slow)
    wf.node("quick", echo, with_={"value": "quick"})
    wf.node("first", first, after=["slow", "quick"], join="any", with_={"value": "${input}"})
    result = await run_workflow(wf)
    assert result.nodes["first"].output == ["quick"]
    assert result.nodes["slow"].state is NodeState.SUCCEEDED


async def test_quorum_join_waits_for_count_inputs() -> None:
    wf = Workflow("quorum")
    for name in ("a", "b", "c"):
        wf.node(name, echo, with_={"value": "yes" if name != "c" else "no"})
    wf.node("vote", echo, after=["a", "b", "c"],
            join=JoinSpec(mode="quorum", count=2, reducer="vote"),
            with_={"value": "${input}"})  # fmt: skip
    result = await run_workflow(wf)
    assert result.outputs["vote"] == "yes"


async def test_false_condition_skips_the_target_and_everything_behind_it() -> None:
    wf = Workflow("conditions")
    wf.node("score", echo, with_={"value": {"score": 0.2}})
    wf.node("good", echo, with_={"value": "good"})
    wf.node("bad", echo, with_={"value": "bad"})
    wf.node("after_good", echo, after=["good"], with_={"value": "${good}"})
    wf.edge("score", "good", when="output.score >= 0.5")
    wf.edge("score", "bad", when="output.score < 0.5")
    result = await run_workflow(wf)
    assert result.state is RunState.SUCCEEDED
    assert result.nodes["good"].state is NodeState.SKIPPED
    assert result.nodes["after_good"].state is NodeState.SKIPPED
    assert result.nodes["bad"].output == "bad"


async def test_loop_repeats_until_its_condition_fails() -> None:
    @tool
    def draft(feedback: Any = None) -> dict[str, int]:
        version = 0 if feedback is None else feedback["version"] + 1
        return {"version": version}

    @tool
    def review(text: dict[str, int]) -> dict[str, Any]:
        return {"version": text["version"], "approved": text["version"] >= 2}

    wf = Workflow("loop")
    wf.node("draft", draft, with_={"feedback": "${review}"})
    wf.node("review", review, after=["draft"], with_={"text": "${draft}"})
    wf.edge("review", "draft", when="not output.approved", max_iterations=5)
    result = await run_workflow(wf)
    assert result.ok
    assert result.outputs == {"review": {"version": 2, "approved": True}}


async def test_loop_stops_at_max_iterations() -> None:
    runs = 0

    @tool
    def never_happy(value: Any = None) -> dict[str, bool]:
        nonlocal runs
        runs += 1
        return {"approved": False}

    wf = Workflow("bounded-loop")
    wf.node("attempt", never_happy, with_={"value": "${check}"})
    wf.node("check", echo, after=["attempt"], with_={"value": "${attempt}"})
    wf.edge("check", "attempt", when="not output.approved", max_iterations=3)
    result = await run_workflow(wf)
    assert result.ok
    assert runs == 4  # the first pass plus three iterations


async def test_retryable_errors_are_retried_with_backoff() -> None:
    calls = 0

    @tool
    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ActionFailed("try again", retryable=True)
        return "ok"

    wf = Workflow("retry")
    wf.node("flaky", flaky, retry=RetryPolicy(max_attempts=5, initial_delay=0.001))
    result = await run_workflow(wf)
    assert result.ok
    assert result.nodes["flaky"].attempts == 3


async def test_non_retryable_errors_fail_at_once() -> None:
    calls = 0

    @tool
    def broken() -> str:
        nonlocal calls
        calls += 1
        raise ValueError("bad data")

    wf = Workflow("no-retry")
    wf.node("broken", broken, retry=RetryPolicy(max_attempts=5, initial_delay=0.001))
    result = await run_workflow(wf)
    assert result.state is RunState.FAILED
    assert calls == 1
    error = result.nodes["broken"].error
    assert error is not None and error.type == "ValueError" and "bad data" in error.message


async def test_timeout_fails_the_node_with_a_timeout_error() -> None:
    @tool
    async def hang() -> None:
        await asyncio.sleep(10)

    wf = Workflow("timeout")
    wf.node("hang", hang, timeout=0.01)
    result = await run_workflow(wf)
    assert result.state is RunState.FAILED
    error = result.nodes["hang"].error
    assert error is not None and error.type == "Timeout"


class RaisesTimeout:
    """An action whose own client timed out: it raises ``TimeoutError`` from ``invoke``."""

    spec = ActionSpec(name="flaky_client", kind=ActionKind.TOOL)

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        raise TimeoutError("upstream did not answer")


@pytest.mark.parametrize("timeout", [None, 5.0])
async def test_an_actions_own_timeout_error_fails_the_node_as_that_error(
    timeout: float | None,
) -> None:
    wf = Workflow("own-timeout")
    wf.node("call", RaisesTimeout(), timeout=timeout)
    result = await run_workflow(wf)
    assert result.state is RunState.FAILED
    error = result.nodes["call"].error
    assert error is not None and error.type == "TimeoutError"
    assert "upstream did not answer" in error.message


async def test_bad_argument_is_an_error_result_naming_the_field() -> None:
    wf = Workflow("bad-arg")
    wf.node("text", echo, with_={"value": "not a number"})
    wf.node("sum", add, after=["text"], with_={"a": "${text}"})
    result = await run_workflow(wf)
    assert result.state is RunState.FAILED
    error = result.nodes["sum"].error
    assert error is not None and error.type == "ValidationError" and error.field == "a"


async def test_fail_fast_cancels_running_siblings() -> None:
    cancelled = asyncio.Event()

    @tool
    async def long_running() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @tool
    async def fails() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    wf = Workflow("fail-fast")
    wf.node("long", long_running)
    wf.node("fails", fails)
    result = await run_workflow(wf)
    assert result.state is RunState.FAILED
    assert cancelled.is_set()
    assert result.nodes["long"].state is NodeState.CANCELLED
    assert "boom" in (result.error or "")


async def test_continue_policy_finishes_independent_branches_and_skips_dependents() -> None:
    @tool
    def fails() -> None:
        raise RuntimeError("boom")

    wf = Workflow("continue", on_failure="continue")
    wf.node("fails", fails)
    wf.node("dependent", echo, after=["fails"], with_={"value": 1})
    wf.node("independent", echo, with_={"value": 2})
    result = await run_workflow(wf)
    assert result.state is RunState.FAILED
    assert result.nodes["independent"].output == 2
    assert result.nodes["dependent"].state is NodeState.SKIPPED
    assert result.nodes["dependent"].reason == "upstream failed"


async def test_action_concurrency_limit_bounds_parallel_calls() -> None:
    running = 0
    peak = 0

    @tool
    async def limited(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return n

    wf = Workflow("limits", action_concurrency={"limited": 2})
    for i in range(8):
        wf.node(f"n{i}", limited, with_={"n": i})
    result = await run_workflow(wf)
    assert result.ok
    assert peak == 2


async def test_cancelling_the_run_cancels_the_nodes_in_flight() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @tool
    async def wait_forever() -> None:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    wf = Workflow("cancel")
    wf.node("wait", wait_forever)
    task = asyncio.create_task(run_workflow(wf))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


async def test_a_workflow_runs_as_a_node_of_another_workflow() -> None:
    inner = Workflow("inner")
    inner.input("n", type="integer", required=True)
    inner.node("double", add, with_={"a": "${inputs.n}", "b": "${inputs.n}"})
    inner.output("value", "${double}")

    outer = Workflow("outer")
    outer.node("start", echo, with_={"value": 21})
    outer.node("sub", inner, after=["start"], with_={"n": "${start}"})
    result = await run_workflow(outer)
    assert result.ok
    assert result.outputs == {"sub": {"value": 42}}


async def test_an_action_calls_another_action_through_its_context() -> None:
    @tool
    async def delegate(x: int, ctx: ActionContext) -> int:
        result = await ctx.invoke("add", {"a": x, "b": 1})
        assert result.ok
        return int(result.output) * 2

    wf = Workflow("agent-as-tool")
    wf.node("delegate", delegate, with_={"x": 4})
    result = await run_workflow(wf, actions=[add])
    assert result.outputs == {"delegate": 10}


async def test_critic_on_an_edge_revises_the_artifact() -> None:
    @tool
    def critic(artifact: str, source: str, target: str) -> dict[str, Any]:
        return {"approved": True, "artifact": artifact.upper(), "feedback": "louder"}

    wf = Workflow("critic")
    wf.node("write", echo, with_={"value": "draft"})
    wf.node("publish", echo, with_={"value": "${write}"})
    wf.edge("write", "publish", critic="critic")
    result = await run_workflow(wf, actions=[critic])
    assert result.outputs == {"publish": "DRAFT"}


async def test_critic_rejection_blocks_the_edge() -> None:
    @tool
    def strict(artifact: str, source: str, target: str) -> dict[str, Any]:
        return {"approved": False, "feedback": "no"}

    wf = Workflow("reject")
    wf.node("write", echo, with_={"value": "draft"})
    wf.node("publish", echo, with_={"value": "${write}"})
    wf.edge("write", "publish", critic="strict")
    result = await run_workflow(wf, actions=[strict])
    assert result.nodes["publish"].state is NodeState.SKIPPED


async def test_progress_events_reach_listeners() -> None:
    @tool
    def chatty(ctx: ActionContext) -> str:
        ctx.progress("halfway", 0.5)
        return "done"

    events: list[RunEvent] = []
    wf = Workflow("progress")
    wf.node("chatty", chatty)
    await run_workflow(wf, listeners=[events.append])
    progress = [e for e in events if e.kind is EventKind.PROGRESS]
    assert progress and progress[0].data["message"] == "halfway"
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.RUN_STARTED and kinds[-1] is EventKind.RUN_FINISHED
