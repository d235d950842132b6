"""The executor's spans: one per run, node, call attempt, child call and critic review."""

from __future__ import annotations

from weft import ActionContext, ActionFailed, RetryPolicy, Workflow, tool
from weft.runtime import Executor, compile_workflow
from weft.runtime.tracing.spans import MemoryTracer, parse_traceparent, trace_id_for, traceparent


@tool
def echo(value: int) -> int:
    return value


async def run_traced(wf: Workflow, actions: list[object] | None = None) -> MemoryTracer:
    tracer = MemoryTracer()
    result = await Executor(tracer=tracer).run(compile_workflow(wf, actions), {})
    assert result.ok, result.error
    return tracer


async def test_every_span_shares_the_run_trace_and_has_its_caller_as_parent() -> None:
    wf = Workflow("traced")
    wf.node("a", echo, with_={"value": 1})
    wf.node("b", echo, after=["a"], with_={"value": "${a}"})
    tracer = await run_traced(wf)
    (run,) = tracer.by_kind("run")
    nodes = {s.name: s for s in tracer.by_kind("node")}
    assert {s.trace_id for s in tracer.spans} == {run.trace_id}
    assert len(run.trace_id) == 32 and all(len(s.span_id) == 16 for s in tracer.spans)
    assert nodes["a"].parent_id == run.span_id and nodes["b"].parent_id == run.span_id
    assert nodes["b"].attributes["input"] == {"value": 1}
    assert nodes["b"].attributes["output"] == 1


async def test_a_node_called_once_is_one_span_and_foreach_items_are_its_children() -> None:
    wf = Workflow("fan")
    wf.node("plain", echo, with_={"value": 1})
    wf.node("items", echo, foreach="${inputs.values}", with_={"value": "${item}"})
    tracer = MemoryTracer()
    result = await Executor(tracer=tracer).run(compile_workflow(wf), {"values": [1, 2, 3]})
    assert result.ok
    items_node = next(s for s in tracer.by_kind("node") if s.name == "items")
    item_calls = tracer.by_kind("call")
    assert len(item_calls) == 3
    assert {c.parent_id for c in item_calls} == {items_node.span_id}


async def test_each_retry_is_its_own_call_span() -> None:
    attempts = 0

    @tool
    def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ActionFailed("again", retryable=True)
        return "ok"

    wf = Workflow("retries")
    wf.node("flaky", flaky, retry=RetryPolicy(max_attempts=3, initial_delay=0.001))
    tracer = await run_traced(wf)
    calls = tracer.by_kind("call")
    assert [c.attributes["weft.attempt"] for c in calls] == [1, 2, 3]
    assert [c.status for c in calls] == ["error", "error", "ok"]
    assert calls[0].attributes["weft.retry_delay"] is not None


async def test_a_call_made_by_an_action_is_a_child_of_that_call() -> None:
    @tool
    async def caller(ctx: ActionContext) -> int:
        result = await ctx.invoke("echo", {"value": 7})
        return int(result.output)

    wf = Workflow("nested")
    wf.node("caller", caller)
    tracer = await run_traced(wf, [echo])
    (child,) = tracer.by_kind("call")
    (node,) = tracer.by_kind("node")
    assert child.name == "echo" and child.parent_id == node.span_id


async def test_sub_workflow_nodes_are_children_of_the_calling_span() -> None:
    inner = Workflow("inner")
    inner.node("leaf", echo, with_={"value": 3})
    outer = Workflow("outer")
    outer.node("sub", inner)
    tracer = await run_traced(outer)
    nodes = {s.name: s for s in tracer.by_kind("node")}
    assert nodes["sub/leaf"].parent_id == nodes["sub"].span_id


def test_traceparent_round_trips_and_ids_are_otel_sized() -> None:
    trace = trace_id_for("my-run")
    assert len(trace) == 32 and trace_id_for("my-run") == trace
    header = traceparent(trace, "0123456789abcdef")
    assert parse_traceparent(header) == (trace, "0123456789abcdef")
    assert parse_traceparent("garbage") is None
