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
the ``a2a`` and ``dev`` extras.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import SKILL_METADATA, value_to_parts

#: Seconds to wait for a first reply, the profile's ``reply_first_timeout_ms``.
REPLY_TIMEOUT = 15.0
_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
#: aiomqtt's own log (it warns of "pending publish calls" under load); silent unless configured.
_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())


@dataclass
class A2aMqttReply:
    """One message received: its JSON body (``None`` if not JSON) and MQTT properties."""

    topic: str
    payload: bytes
    correlation: bytes | None
    user_properties: dict[str, str] = field(default_factory=dict)
    retain: bool = False

    @property
    def body(self) -> Any:
        try:
            return json.loads(self.payload) if self.payload else None
        except ValueError:
            return None


class A2aMqttClient:
    """An A2A requester over MQTT v5 (module docstring)."""

    def __init__(
        self,
        broker_url: str,
        *,
        address: wire.A2aMqttAddress | None = None,
        timeout: float = REPLY_TIMEOUT,
    ) -> None:
        parts = urlsplit(broker_url if "://" in broker_url else f"mqtt://{broker_url}")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 1883
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

    async def __aenter__(self) -> Self:
        import aiomqtt

        self._client = aiomqtt.Client(
            self.host,
            self.port,
            logger=_log,
            identifier=self.address.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            socket_options=[_NODELAY],
        )
        await self._client.__aenter__()
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
        async for message in self._client.messages:
            props = message.properties
            reply = A2aMqttReply(
                topic=message.topic.value,
                payload=bytes(message.payload or b""),
                correlation=getattr(props, "CorrelationData", None),
                user_properties=dict(getattr(props, "UserProperty", []) or []),
                retain=bool(message.retain),
            )
            if reply.topic == self.reply_topic:
                queue = self._replies.get(reply.correlation) if reply.correlation else None
                (queue or self.stray).put_nowait(reply)
            elif reply.topic in self._topics:
                self._topics[reply.topic].put_nowait(reply)

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
        """Publish a request (QoS 1) and return its Correlation Data (made unless given).

        ``with_correlation`` / ``with_response_topic`` false leave those
        properties out, to see how a responder treats a malformed request.
        """
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        if with_response_topic:
            props.ResponseTopic = response_topic or self.reply_topic
        if with_correlation:
            correlation = correlation or os.urandom(16)
            props.CorrelationData = correlation
            self._replies.setdefault(correlation, asyncio.Queue())
        else:
            correlation = None
        if user_properties:
            props.UserProperty = list(user_properties.items())
        if expiry is not None:
            props.MessageExpiryInterval = expiry
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        await self._client.publish(topic, payload, qos=1, properties=props)
        return correlation

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
        body = {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": params}
        correlation = await self.publish(topic, body, **publish)
        assert correlation is not None
        return (await self.replies(correlation, first=True))[0]

    async def stream(
        self, topic: str, method: str, params: dict[str, Any], **publish: Any
    ) -> list[A2aMqttReply]:
        """One JSON-RPC request; all its replies, the last one ending the stream."""
        body = {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": params}
        correlation = await self.publish(topic, body, **publish)
        assert correlation is not None
        return await self.replies(correlation)

    @staticmethod
    def message(
        value: Any,
        *,
        task_id: str | None = None,
        context_id: str | None = None,
        skill: str | None = None,
    ) -> dict[str, Any]:
        """A ``SendMessage`` params object for ``value`` with a fresh UUIDv4 task id."""
        message: dict[str, Any] = {
            "messageId": uuid.uuid4().hex,
            "role": "ROLE_USER",
            "parts": value_to_parts(value),
            "taskId": task_id or str(uuid.uuid4()),
        }
        if context_id:
            message["contextId"] = context_id
        if skill:
            message["metadata"] = {SKILL_METADATA: skill}
        return {"message": message}

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
        unregister: for tests that leave a dead agent's card behind."""
        await self._client.publish(address.discovery_topic, b"", qos=1, retain=True)

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
