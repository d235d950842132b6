"""A remote LLM agent's streamed text reaches its caller over the real broker, as it comes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import weft
from weft import Workflow
from weft.agents import LLMAgent
from weft.agents.streaming import stream_text
from weft.protocols import ActionCall, ProgressEvent
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.tracing.spans import MemoryTracer
from weft.testing import OpenAIServer, ScriptedModel, text

ANSWER = "Streaming across the broker works one word at a time."


class Collect:
    def __init__(self) -> None:
        self.pieces: list[str] = []

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        piece = weft.text_delta(ProgressEvent(call_id="", message=message, data=data))
        if piece is not None:
            self.pieces.append(piece)


@pytest.fixture
async def served(mqtt_broker_url: str) -> AsyncIterator[tuple[LiveRegistry, Any]]:
    """An LLM agent served on the broker (its model a scripted server), and a caller."""
    seen = asyncio.Event()
    held: list[int] = []

    async def hold(position: int, chunk: dict[str, Any]) -> None:
        if position == 3:
            await asyncio.wait_for(seen.wait(), 10)
            held.append(position)

    model = ScriptedModel()
    ns = f"stream-{uuid.uuid4().hex[:10]}"
    tracer = MemoryTracer()
    async with OpenAIServer(model, on_chunk=hold) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m")  # stream=None
        async with (
            MqttBus(mqtt_broker_url, namespace=ns) as agent_bus,
            MqttBus(mqtt_broker_url, namespace=ns) as caller_bus,
            AgentHost(agent_bus, [agent], tracer=tracer),
            LiveRegistry(caller_bus) as live,
        ):
            await live.wait_for(["writer"], 10)
            yield live, (model, seen, held, tracer)


async def test_the_text_reaches_the_caller_before_the_answer_ends(
    served: tuple[LiveRegistry, Any],
) -> None:
    live, (model, seen, held, tracer) = served
    model.add(text(ANSWER))
    wf = Workflow("remote")
    wf.node("write", "writer", with_={"task": "write"})
    stream = weft.stream_workflow(wf, actions=live.actions(), record=False)
    pieces: list[tuple[str | None, str]] = []
    async for event in stream:
        if (piece := weft.text_delta(event)) is not None:
            pieces.append((event.key, piece))
            seen.set()
    assert stream.result.outputs == {"write": ANSWER}
    assert "".join(p for _, p in pieces) == ANSWER
    assert {key for key, _ in pieces} == {"write"}
    assert held == [3]  # the model's stream waited there until the caller had text
    assert model.requests[0].body["stream"] is True
    (served_span,) = tracer.by_kind("call")
    assert "weft.progress" not in served_span.attributes  # no pieces kept on the agent


async def test_the_remote_result_keeps_no_pieces_and_a_caller_that_does_not_read_gets_none(
    served: tuple[LiveRegistry, Any],
) -> None:
    live, (model, seen, _, _) = served
    seen.set()
    model.add(text(ANSWER), text(ANSWER))
    writer = live.actions().get("writer")
    call = ActionCall(action="writer", arguments={"task": "write"})
    streamed = Collect()
    with stream_text():
        result = await writer.invoke(call, streamed)  # type: ignore[arg-type]
    assert result.output == ANSWER and "".join(streamed.pieces) == ANSWER
    assert result.progress == []
    quiet = Collect()
    again = await writer.invoke(call.model_copy(update={"call_id": "other"}), quiet)  # type: ignore[arg-type]
    assert again.output == ANSWER and quiet.pieces == []
    assert [r.body.get("stream") for r in model.requests] == [True, None]
