"""``ctx.idempotency_key``: one key per piece of work, the same on every attempt of it."""

from __future__ import annotations

from pathlib import Path

from weft import RetryPolicy, RunState, Workflow, tool
from weft.protocols import ActionCall, ActionContext, idempotency_key_of
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry


def test_the_key_is_the_call_s_own_then_run_and_node_then_the_call_id() -> None:
    assert idempotency_key_of(ActionCall(call_id="c1", action="a")) == "c1"
    node_call = ActionCall(call_id="c2", action="a", run_id="r1", node="fx[3]")
    assert idempotency_key_of(node_call) == "r1:fx[3]"
    given = ActionCall(action="a", run_id="r1", node="fx", idempotency_key="mine")
    assert idempotency_key_of(given) == "mine"


async def test_retries_see_the_key_of_their_node_and_foreach_items_each_their_own() -> None:
    seen: list[tuple[str, int]] = []

    @tool
    async def flaky(n: int, ctx: ActionContext) -> int:
        seen.append((ctx.idempotency_key, ctx.call.attempt))
        if ctx.call.attempt == 1:
            raise ConnectionError("the service hung up")  # retryable
        return n

    wf = Workflow("keys")
    wf.input("ns", type="array")
    wf.node(
        "fx",
        flaky,
        foreach="${inputs.ns}",
        with_={"n": "${item}"},
        retry=RetryPolicy(max_attempts=2, initial_delay=0),
    )
    result = await run_workflow(wf, {"ns": [1, 2]})
    assert result.ok, result.error
    run = result.run_id
    item0, item1 = f"{run}:fx[0]", f"{run}:fx[1]"
    assert sorted(seen) == [(item0, 1), (item0, 2), (item1, 1), (item1, 2)]


async def test_nested_calls_get_keys_of_their_own_numbered_per_action() -> None:
    seen: list[str] = []

    @tool
    async def leaf(ctx: ActionContext) -> str:
        seen.append(ctx.idempotency_key)
        return ctx.idempotency_key

    @tool
    async def parent(ctx: ActionContext) -> list[str]:
        return [(await ctx.invoke("leaf", {})).output for _ in range(2)]

    wf = Workflow("nested")
    wf.node("p", parent)
    result = await run_workflow(wf, actions=[leaf])
    assert result.ok, result.error
    assert result.outputs["p"] == [f"{result.run_id}:p>leaf", f"{result.run_id}:p>leaf#2"]


async def test_resume_runs_a_node_again_with_the_same_key(tmp_path: Path) -> None:
    seen: list[str] = []
    healthy = False

    @tool
    def charge(ctx: ActionContext) -> str:
        seen.append(ctx.idempotency_key)
        if not healthy:
            raise RuntimeError("payment service down")
        return "charged"

    wf = Workflow("payment")
    wf.node("charge", charge)
    journal = Journal(tmp_path / "journal.db")
    failed = await run_workflow(wf, journal=journal)
    assert failed.state is RunState.FAILED
    healthy = True
    resumed = await resume_run(failed.run_id, journal=journal, definition=wf)
    assert resumed.ok
    assert seen == [f"{failed.run_id}:charge"] * 2


async def test_an_agent_in_another_process_sees_the_caller_s_key() -> None:
    @tool
    async def where(ctx: ActionContext) -> str:
        return ctx.idempotency_key

    wf = Workflow("remote-key")
    wf.node("w", "where")
    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_bus,
        InProcessBus(broker) as caller_bus,
        AgentHost(agent_bus, [where]),
        LiveRegistry(caller_bus) as registry,
    ):
        result = await run_workflow(wf, actions=registry.actions(["where"]))
    assert result.ok, result.error
    assert result.outputs["w"] == f"{result.run_id}:w"
