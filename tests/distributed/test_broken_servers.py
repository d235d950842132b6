"""A server in another language that answers wrongly: the caller says so at once.

docs/protocol.md lets anyone serve calls; a result weft cannot read, a failure
without its error or a question without ``details.question`` must end the call
with an error naming the agent and the fault, not leave it waiting for its
deadline and then blame the agent for sending nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from distributed_support import WAIT, fast_bus

from weft.protocols import ActionCall, ActionSpec, ActionState, MessageProperties
from weft.protocols.remote import KIND_PROPERTY
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.remote_action import RemoteAction


@contextlib.asynccontextmanager
async def fake_server(bus: MqttBus, agent: str, reply: bytes) -> AsyncIterator[None]:
    """Answers every call on ``agent``'s topic with ``reply``, as a broken client would."""
    sub = await bus.subscribe(bus.topics.agent_call(agent))

    async def serve() -> None:
        async for message in sub:
            await bus.publish(
                message.properties.response_topic or "",
                reply,
                properties=MessageProperties(
                    correlation_data=message.properties.correlation_data,
                    user_properties={KIND_PROPERTY: "result"},
                ),
            )

    task = asyncio.create_task(serve())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sub.close()


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (b"not json", "sent a result weft cannot read"),
        (b'{"state": "ok", "output": 1}', "call_id: Field required"),
        (b'{"call_id": "x", "state": "weird"}', "state: Input should be"),
        (b'{"call_id": "x", "state": "error"}', "answered 'error' without an error"),
        (
            b'{"call_id": "x", "state": "needs_input", "agent": "fake-1",'
            b' "error": {"type": "NeedsInput", "message": "Which?"}}',
            "without error.details.question",
        ),
    ],
)
async def test_a_broken_result_fails_the_call_naming_the_agent(
    broker_url: str, ns: str, reply: bytes, words: str
) -> None:
    async with fast_bus(broker_url, ns) as bus, fake_server(bus, "fake-1", reply):
        action = RemoteAction(bus, ActionSpec(name="echo"), agent="fake-1", default_timeout=WAIT)
        result = await action.invoke(ActionCall(action="echo", arguments={}))
    assert result.state is ActionState.ERROR
    assert result.error is not None
    assert result.error.type == "AgentError"
    assert "fake-1" in result.error.message
    assert words in result.error.message
    assert result.agent == "fake-1"
