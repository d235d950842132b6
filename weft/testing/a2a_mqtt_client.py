"""A minimal A2A-over-MQTT requester on aiomqtt, for tests, the conformance kit and benches.

It speaks the binding's wire (docs/a2a-mqtt.md) with a plain MQTT v5
client and nothing of weft's bus, so that what it checks is the protocol,
not weft's own client talking to itself:

    async with A2aMqttClient("mqtt://127.0.0.1:1883") as client:
        card, props = await client.card(A2aMqttAddress("acme", "ops", "echo"))
        reply = await client.send_message(address.request_topic, {"text": "hi"})
        reply.body["result"]["task"]["status"]["state"]   # "TASK_STATE_COMPLETED"

The client's own id is ``{org}/{unit}/{agent}`` (default ``weft-test/clients/<random>``),
its replies come to ``$a2a/v1/reply/{org}/{unit}/{agent}/{random}``,
subscribed before anything is sent; replies are matched by Correlation Data
and a reply with an unknown one is kept apart (``stray``). ``aiomqtt`` is in
the ``a2a`` and ``dev`` extras. The wire pieces it shares with weft's own
requester (``weft.agents.A2aMqttAction``): the broker URL, the client's
options, the request and reply shapes, come from ``weft.agents.a2a_mqtt_link``.

It reports what the broker refuses as weft's requester does, through the
same code: a connect refused for its login or TLS raises ``A2aBrokerRefused``
naming the broker and the cause, and a publish the broker's ACL refuses
(MQTT v5 PUBACK 0x87) raises ``PublishRefusedError`` naming the topic, at
once, instead of a test waiting for a reply until its timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from types import TracebackType
from typing import Any, Self

from weft.agents.a2a_mqtt_link import (
    A2aMqttReply,
    A2aMqttTarget,
    jsonrpc_request,
    publish_properties,
    send_message_params,
)
from weft.protocols import a2a_mqtt as wire

__all__ = ["REPLY_TIMEOUT", "A2aMqttClient", "A2aMqttReply"]

#: Seconds to wait for a first reply, the profile's ``reply_first_timeout_ms``.
REPLY_TIMEOUT = 15.0


class A2aMqttClient:
    """An A2A requester over MQTT v5 (module docstring)."""

    def __init__(
        self,
        broker_url: str,
        *,
        address: wire.A2aMqttAddress | None = None,
        timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.target = A2aMqttTarget.parse(broker_url, agent_required=False)
        self.address = address or wire.A2aMqttAddress(
            "weft-test", "clients", f"c{os.urandom(6).hex()}"
        )
        self.reply_topic = self.address.reply_topic(uuid.uuid4().hex)
        self.timeout = timeout
        self._client: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._replies: dict[bytes, asyncio.Queue[A2aMqttReply]] = {}
        self._topics: dict[str, asyncio.Queue[A2aMqttReply]] = {}
        #: Replies whose Correlation Data is missing or unknown (the profile says: ignore them).
        self.stray: asyncio.Queue[A2aMqttReply] = asyncio.Queue()
        #: Set when the connection ended: a publish waiting for its PUBACK stops then.
        self.lost = asyncio.Event()

    async def __aenter__(self) -> Self:
        """Connect; ``A2aBrokerRefused`` when the broker refuses the URL's login or TLS."""
        self._client = await self.target.connect(self.address.client_id)
        await self._client.subscribe(self.reply_topic, qos=1)
        self._reader = asyncio.create_task(self._read(), name="a2a-mqtt client")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._client.__aexit__(exc_type, exc, tb)

    async def _read(self) -> None:
        try:
            async for message in self._client.messages:
                reply = A2aMqttReply.of(message)
                if reply.topic == self.reply_topic:
                    queue = self._replies.get(reply.correlation) if reply.correlation else None
                    (queue or self.stray).put_nowait(reply)
                elif reply.topic in self._topics:
                    self._topics[reply.topic].put_nowait(reply)
        finally:
            self.lost.set()

    # -- sending ----------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        body: dict[str, Any] | bytes,
        *,
        correlation: bytes | None = None,
        response_topic: str | None = None,
        user_properties: dict[str, str] | None = None,
        expiry: int | None = None,
        with_correlation: bool = True,
        with_response_topic: bool = True,
    ) -> bytes | None:
        """Publish a request (QoS 1), wait for its PUBACK, and return its Correlation Data
        (made unless given).

        ``with_correlation`` / ``with_response_topic`` false leave those
        properties out, to see how a responder treats a malformed request.
        ``PublishRefusedError`` when the broker refused it (its ACL: PUBACK 0x87);
        ``ConnectionError`` when the connection ended first.
        """
        if with_correlation:
            correlation = correlation or os.urandom(16)
            self._replies.setdefault(correlation, asyncio.Queue())
        else:
            correlation = None
        props = publish_properties(
            correlation,
            (response_topic or self.reply_topic) if with_response_topic else None,
            user_properties=user_properties,
            expiry=expiry,
        )
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        await self._publish(topic, payload, props)
        return correlation

    async def _publish(
        self, topic: str, payload: bytes, props: Any, *, retain: bool = False
    ) -> None:
        """QoS 1, the broker's PUBACK read as weft's requester reads it (``publish_acked``)."""
        await self._client.publish_acked(
            topic,
            payload,
            properties=props,
            broker=self.target.broker,
            lost=self.lost,
            retain=retain,
        )

    async def replies(
        self, correlation: bytes, *, timeout: float | None = None, first: bool = False
    ) -> list[A2aMqttReply]:
        """Every reply to ``correlation`` up to the one that ends it (``ends_stream``), or
        only the first one."""
        queue = self._replies.setdefault(correlation, asyncio.Queue())
        got: list[A2aMqttReply] = []
        try:
            async with asyncio.timeout(timeout or self.timeout):
                while True:
                    reply = await queue.get()
                    got.append(reply)
                    if first or not isinstance(reply.body, dict) or wire.ends_stream(reply.body):
                        return got
        finally:
            self._replies.pop(correlation, None)

    async def request(
        self, topic: str, method: str, params: dict[str, Any], **publish: Any
    ) -> A2aMqttReply:
        """One JSON-RPC request, not streamed; its reply."""
        correlation = await self.publish(topic, jsonrpc_request(method, params), **publish)
        assert correlation is not None
        return (await self.replies(correlation, first=True))[0]

    async def stream(
        self, topic: str, method: str, params: dict[str, Any], **publish: Any
    ) -> list[A2aMqttReply]:
        """One JSON-RPC request; all its replies, the last one ending the stream."""
        correlation = await self.publish(topic, jsonrpc_request(method, params), **publish)
        assert correlation is not None
        return await self.replies(correlation)

    #: ``SendMessage`` params for a value with a fresh UUIDv4 task id (``send_message_params``).
    message = staticmethod(send_message_params)

    async def send_message(
        self,
        topic: str,
        value: Any,
        *,
        task_id: str | None = None,
        context_id: str | None = None,
        skill: str | None = None,
    ) -> A2aMqttReply:
        """``SendMessage`` with ``value`` as the message's parts; the reply."""
        params = self.message(value, task_id=task_id, context_id=context_id, skill=skill)
        return await self.request(topic, wire.SEND_MESSAGE, params)

    # -- discovery --------------------------------------------------------------------

    async def clear(self, address: wire.A2aMqttAddress) -> None:
        """Delete the agent's retained card (an empty retained message), as it would to
        unregister: for tests that leave a dead agent's card behind. ``PublishRefusedError``
        when the broker's ACL does not let this client write there."""
        props = publish_properties(None, None)
        await self._publish(address.discovery_topic, b"", props, retain=True)

    async def watch(self, topic: str) -> asyncio.Queue[A2aMqttReply]:
        """Subscribe to ``topic`` (a discovery topic); its messages arrive in the queue."""
        queue = self._topics.setdefault(topic, asyncio.Queue())
        await self._client.subscribe(topic, qos=1)
        return queue

    async def card(
        self, address: wire.A2aMqttAddress, *, timeout: float | None = None
    ) -> A2aMqttReply:
        """The next message on the agent's discovery topic: first its retained card, then
        each re-publication (an update, ``offline`` on stop, the Will when it dies)."""
        topic = address.discovery_topic
        queue = self._topics.get(topic) or await self.watch(topic)
        async with asyncio.timeout(timeout or self.timeout):
            return await queue.get()
