"""A remote call's spans and progress, on the in-process bus: what goes back, and how it lands."""

from __future__ import annotations

import json
import threading
from typing import Any

from weft import Workflow, run_workflow, tool
from weft.protocols import (
    ActionCall,
    ActionContext,
    EventKind,
    MessageProperties,
    RunEvent,
    ServedSpan,
)
from weft.protocols.remote import SPANS_PROPERTY, TRACEPARENT
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.remote._call_trace import served_spans
from weft.runtime.remote._remote_trace import record_served
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.remote_action import RemoteAction
from weft.runtime.tracing.spans import MemoryTracer, SpanRecord, traceparent

WAIT = 10.0


async def test_a_def_tools_progress_on_an_agent_reaches_the_caller_while_it_runs() -> None:
    heard = threading.Event()
    events: list[RunEvent] = []

    @tool
    def chatty(ctx: ActionContext) -> str:
        ctx.progress("working", 0.25)  # from a worker thread, on the agent
        return "done" if heard.wait(WAIT) else "the caller never heard"

    def listener(event: RunEvent) -> None:
        if event.kind is EventKind.PROGRESS:
            events.append(event)
            heard.set()

    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_bus,
        InProcessBus(broker) as caller_bus,
        AgentHost(agent_bus, [chatty]) as host,
    ):
        remote = RemoteAction(caller_bus, chatty.spec, agent=host.agent_id, default_timeout=WAIT)
        wf = Workflow("chatting")
        wf.node("talk", "chatty")
        tracer = MemoryTracer()
        result = await run_workflow(
            wf, actions=ActionRegistry([remote]), listeners=[listener], tracer=tracer
        )
    assert result.outputs["talk"] == "done"
    (event,) = events
    assert event.key == "talk" and event.data["message"] == "working"
    (node,) = tracer.by_kind("node")
    (served,) = [s for s in tracer.spans if s.attributes.get("weft.side") == "agent"]
    assert node.agent == served.agent == host.agent_id and served.parent_id == node.span_id


async def test_an_agent_returns_no_spans_to_a_caller_that_did_not_ask() -> None:
    @tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_bus,
        InProcessBus(broker) as caller_bus,
        AgentHost(agent_bus, [echo]) as host,
    ):
        replies = await caller_bus.subscribe("replies/#")
        payloads = []
        for asks in ({}, {SPANS_PROPERTY: "1"}):
            call = ActionCall(action="echo", arguments={"text": "hi"}, trace_id="cd" * 16)
            user = {TRACEPARENT: traceparent("cd" * 16, call.call_id), **asks}
            properties = MessageProperties(
                response_topic="replies/me", correlation_data=b"1", user_properties=user
            )
            topic = caller_bus.topics.agent_call(host.agent_id)
            await caller_bus.publish(topic, call.model_dump_json(), qos=1, properties=properties)
            payloads.append(json.loads((await replies.get(WAIT)).payload))
    plain, traced = payloads
    assert "spans" not in plain and plain["output"] == "hi"
    (span,) = traced["spans"]
    assert span["parent_id"] == call.call_id and span["agent"] == host.agent_id


def _span(span_id: str, parent: str | None, start: float, size: int = 10) -> SpanRecord:
    return SpanRecord(
        trace_id="ab" * 16,
        span_id=span_id,
        parent_id=parent,
        name="step",
        kind="call",
        start=start,
        end=start + 1,
        status="ok",
        attributes={"output": "x" * size},
    )


def test_the_calls_own_span_goes_first_and_what_does_not_fit_is_counted() -> None:
    own = _span("0000000000000001", "c" * 16, 0.0)
    children = [_span(f"{i + 2:016x}", own.span_id, 10.0 - i, size=1000) for i in range(5)]
    kept, dropped = served_spans([*children, own], budget=3000)
    assert kept[0].span_id == own.span_id
    assert [s.start for s in kept[1:]] == sorted(s.start for s in kept[1:])  # by start
    assert len(kept) == 3 and dropped == 3
    assert served_spans([*children, own], budget=10) == ([], 6)


class Spans:
    def __init__(self) -> None:
        self.recorded: list[dict[str, Any]] = []

    def record_span(self, span: dict[str, Any]) -> None:
        self.recorded.append(span)


def _served(span_id: str, parent: str | None, start: float, end: float) -> ServedSpan:
    return ServedSpan(span_id=span_id, parent_id=parent, name="s", start=start, end=end)


def test_served_spans_keep_their_tree_under_the_call_and_sit_inside_it() -> None:
    call = ActionCall(action="s")
    own = _served("1" * 16, call.call_id, 500.0, 502.0)  # a server clock 400 s ahead
    child = _served("2" * 16, own.span_id, 500.5, 501.0)
    orphan = _served("3" * 16, "f" * 16, 501.0, 501.5)  # its parent did not come back
    ctx = Spans()
    record_served(ctx, call, [own, child, orphan], sent=100.0, received=104.0)
    by_id = {s["span_id"]: s for s in ctx.recorded}
    assert by_id[own.span_id]["parent_id"] == call.call_id
    assert by_id[child.span_id]["parent_id"] == own.span_id
    assert by_id[orphan.span_id]["parent_id"] == call.call_id
    assert (by_id[own.span_id]["start"], by_id[own.span_id]["end"]) == (101.0, 103.0)
    assert by_id[child.span_id]["start"] == 101.5
    assert by_id[own.span_id]["attributes"]["weft.clock_offset"] == -399.0
