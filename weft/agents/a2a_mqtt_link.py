"""A requester's side of A2A over MQTT (docs/a2a-mqtt.md): its URL, its requests, its connection.

Shared by the action that calls an A2A agent over MQTT (``a2a_mqtt_action``)
and by ``weft.testing.a2a_mqtt_client`` (which checks agents against the
profile): what a target URL means, what a ``SendMessage`` request looks
like, how a reply is read, and how the MQTT v5 client is configured.

``A2aMqttLink`` is one MQTT v5 connection of a requester. It subscribes to
its reply topic before it sends anything, routes each reply to the request
whose Correlation Data it echoes, and follows the discovery topics of the
agents it calls: their retained card and its ``a2a-status`` user property
(``online``, or ``offline`` from the agent on stop or from the broker's Will
when it died; an empty retained message means the card was cleared). When
the broker connection drops, ``lost`` is set and every waiter is woken: the
link is done and a caller opens a new one.

The client is ``aiomqtt`` (the ``a2a`` extra, imported on first use), not
weft's bus: this module sits in ``weft.agents``, which may not import the
runtime (docs/architecture.md), and a requester needs none of the bus's
fail-over. The sockets run with TCP_NODELAY (DESIGN.md §5: ~88 ms per round
trip without it). The URL's TLS options and login are the bus's, read and
turned into TLS by the same code (``weft.protocols.mqtt_url``); a publish the
broker refuses (PUBACK reason code, e.g. 0x87 from its ACL) raises
``PublishRefusedError`` instead of looking delivered (``_a2a_mqtt_client``).
A connect the broker refuses (a wrong login: CONNACK 0x86/0x87; a broker
certificate not trusted) raises ``A2aBrokerRefused``, in the bus's words
(``weft.protocols.mqtt_refusal``): a caller stops there instead of retrying.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import SKILL_METADATA, value_to_parts
from weft.protocols.errors import WeftError
from weft.protocols.mqtt_url import MqttTls, split_mqtt_url, tls_context, tls_options

__all__ = [
    "A2aAgentNotFound",
    "A2aBrokerRefused",
    "A2aMqttLink",
    "A2aMqttReply",
    "A2aMqttTarget",
    "AgentPresence",
    "jsonrpc_request",
    "send_message_params",
]

INSTALL_HINT = "A2A over MQTT needs the 'a2a' extra: pip install 'weft[a2a]'"
NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
_WHAT = "A2A over MQTT URL"
#: aiomqtt's own log (it warns of "pending publish calls" under load); silent unless configured.
_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())


class A2aAgentNotFound(WeftError):
    """No A2A agent card on the broker where the URL says, or the broker not reachable:
    either may change, so a call that meets it is retryable."""


class A2aBrokerRefused(A2aAgentNotFound):
    """The broker refused this client: its login (MQTT v5 CONNACK 0x86 bad username or
    password, 0x87 not authorized) or TLS (the broker's certificate not trusted).

    Connecting again gets the same answer until the URL (login, ``?ca=``) or
    the broker's users change, so a call that meets it is not retryable. The
    message names the broker (host and port, never the password) and the
    cause. A subclass of ``A2aAgentNotFound``, so that code catching that
    (a workflow's ``a2a:`` line) reports this too.
    """

    def __init__(self, broker: str, why: str) -> None:
        super().__init__(f"cannot connect to the broker {broker}: {why} (not retryable)")
        self.broker = broker
        self.why = why


@dataclass(frozen=True)
class A2aMqttTarget:
    """A broker and, optionally, one agent on it: ``mqtt[s]://[user[:pw]@]HOST[:PORT][/ORG/UNIT/AGENT]``."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    agent: wire.A2aMqttAddress | None = None
    #: ``?ca=&cert=&key=&insecure=1``, as the bus reads them (``weft.protocols.mqtt_url``).
    options: MqttTls = field(default_factory=MqttTls)
    #: Built by ``parse`` from ``options`` (certificates read once); None without TLS.
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, url: str, *, agent_required: bool = True) -> A2aMqttTarget:
        """``ValueError`` naming what is wrong with ``url`` (scheme, port, agent path, a TLS
        option or the file it names: ``MqttTlsError``, in the bus's words)."""
        full = url if "://" in url else f"mqtt://{url}"
        parts = split_mqtt_url(full, _WHAT)
        tls = tls_options(parts, url, _WHAT)
        context = tls_context(tls, _WHAT) if parts.tls else None
        agent = None
        if parts.path or agent_required:
            try:
                agent = wire.A2aMqttAddress.parse(parts.path)
            except ValueError as exc:
                raise ValueError(
                    f"A2A over MQTT URL {url!r} must name the agent as "
                    f"mqtt://HOST:PORT/ORG/UNIT/AGENT_ID: {exc}"
                ) from None
        return cls(
            host=parts.host,
            port=parts.port,
            tls=parts.tls,
            username=parts.username,
            password=parts.password,
            agent=agent,
            options=tls,
            ssl_context=context,
        )

    @property
    def broker(self) -> str:
        """The broker's URL without credentials, for messages."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.broker}/{self.agent}" if self.agent else self.broker

    def client(self, identifier: str, *, timeout: float | None = None) -> Any:
        """An ``aiomqtt.Client`` (MQTT v5, TCP_NODELAY) for this broker, not yet connected;
        its ``send`` reports PUBACK reason codes (``_a2a_mqtt_client``)."""
        try:
            import aiomqtt

            from weft.agents._a2a_mqtt_client import AckingClient
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        return AckingClient(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            logger=_log,
            identifier=identifier,
            protocol=aiomqtt.ProtocolVersion.V5,
            socket_options=[NODELAY],
            tls_context=self.ssl_context,
            timeout=timeout,
            tls=self.tls,
        )

    async def connect(self, identifier: str, *, timeout: float | None = None) -> Any:
        """A connected ``client`` (``__aexit__`` it to disconnect).

        ``A2aBrokerRefused`` when the broker refused the login or TLS failed
        (``_a2a_mqtt_client.refusal``); aiomqtt's ``MqttError`` (or ``OSError``)
        for anything else, e.g. a broker not running.
        """
        from weft.agents._a2a_mqtt_client import refusal

        client = self.client(identifier, timeout=timeout)
        try:
            await client.__aenter__()
        except Exception as exc:
            why = refusal(exc, self.username)
            if why is None:
                raise
            raise A2aBrokerRefused(self.broker, why) from None
        return client


@dataclass
class A2aMqttReply:
    """One message received: its JSON body (``None`` if not JSON) and MQTT properties."""

    topic: str
    payload: bytes
    correlation: bytes | None
    user_properties: dict[str, str] = field(default_factory=dict)
    retain: bool = False

    @classmethod
    def of(cls, message: Any) -> A2aMqttReply:
        """From an ``aiomqtt.Message``."""
        props = message.properties
        return cls(
            topic=message.topic.value,
            payload=bytes(message.payload or b""),
            correlation=getattr(props, "CorrelationData", None),
            user_properties=dict(getattr(props, "UserProperty", []) or []),
            retain=bool(message.retain),
        )

    @property
    def body(self) -> Any:
        try:
            return json.loads(self.payload) if self.payload else None
        except ValueError:
            return None


def send_message_params(
    value: Any,
    *,
    task_id: str | None = None,
    context_id: str | None = None,
    skill: str | None = None,
) -> dict[str, Any]:
    """``SendMessage`` params carrying ``value`` as parts, with the requester-made task id
    the profile asks for (a fresh UUIDv4 unless given)."""
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


def jsonrpc_request(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-RPC 2.0 request with a fresh id."""
    return {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": dict(params)}


def publish_properties(
    correlation: bytes | None,
    response_topic: str | None,
    *,
    user_properties: Mapping[str, str] | None = None,
    expiry: int | None = None,
) -> Any:
    """MQTT v5 PUBLISH properties of a request."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if response_topic is not None:
        props.ResponseTopic = response_topic
    if correlation is not None:
        props.CorrelationData = correlation
    if user_properties:
        props.UserProperty = list(user_properties.items())
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    return props


class AgentPresence:
    """What the broker says of one agent: its last card and status; ``changed`` on each."""

    def __init__(self, address: wire.A2aMqttAddress) -> None:
        self.address = address
        self.card: dict[str, Any] | None = None
        self.status: str | None = None
        self.source: str | None = None
        self.seen = asyncio.Event()
        self.changed = asyncio.Event()

    @property
    def online(self) -> bool:
        """Whether its card says online (a card without ``a2a-status`` counts as online)."""
        return self.card is not None and self.status in (None, wire.ONLINE)

    def describe(self) -> str:
        """Why it cannot be called, for an error message."""
        topic = self.address.discovery_topic
        if not self.seen.is_set():
            return f"no A2A agent card on {topic}"
        if self.card is None:
            return f"the A2A agent's card on {topic} was cleared (it left the broker)"
        source = " (the broker's Will: its connection died)" if self.source == "lwt" else ""
        return f"the A2A agent {self.address} is {self.status}{source}"

    def update(self, reply: A2aMqttReply) -> None:
        body = reply.body
        self.card = body if isinstance(body, dict) else None
        self.status = reply.user_properties.get(wire.STATUS)
        self.source = reply.user_properties.get(wire.STATUS_SOURCE)
        self.seen.set()
        self.changed.set()
        self.changed = asyncio.Event()


class A2aMqttLink:
    """One requester connection (module docstring); ``async with`` or ``open``/``close``."""

    def __init__(
        self,
        target: A2aMqttTarget,
        *,
        requester: wire.A2aMqttAddress | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.target = target
        self.requester = requester or wire.A2aMqttAddress(
            "weft", "requesters", f"r{os.urandom(6).hex()}"
        )
        self.reply_topic = self.requester.reply_topic(uuid.uuid4().hex)
        self.connect_timeout = connect_timeout
        #: Set when the broker connection dropped (or the link closed): open a new link.
        self.lost = asyncio.Event()
        self.error: str | None = None
        self._client: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[bytes, asyncio.Queue[A2aMqttReply]] = {}
        self._agents: dict[str, AgentPresence] = {}
        self._topics: dict[str, asyncio.Queue[A2aMqttReply]] = {}

    async def open(self) -> A2aMqttLink:
        """Connect and subscribe to the reply topic; ``A2aBrokerRefused`` when the broker
        refused this client, ``OSError``/``aiomqtt.MqttError`` when it cannot be reached."""
        self._client = await self.target.connect(
            self.requester.client_id, timeout=self.connect_timeout
        )
        try:
            await self._client.subscribe(self.reply_topic, qos=1)
        except BaseException:
            await self._client.__aexit__(None, None, None)
            raise
        self._reader = asyncio.create_task(self._read(), name=f"a2a-mqtt link {self.target}")
        return self

    async def close(self) -> None:
        self._fail("the link was closed")
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await client.__aexit__(None, None, None)
            except Exception:  # already disconnected: nothing to close
                _log.debug("closing the A2A link to %s", self.target, exc_info=True)

    async def __aenter__(self) -> A2aMqttLink:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _fail(self, why: str) -> None:
        if self.lost.is_set():
            return
        self.error = why
        self.lost.set()

    async def _read(self) -> None:
        try:
            async for message in self._client.messages:
                reply = A2aMqttReply.of(message)
                if reply.topic == self.reply_topic:
                    queue = self._waiting.get(reply.correlation) if reply.correlation else None
                    if queue is not None:  # others are stray: the profile says ignore them
                        queue.put_nowait(reply)
                elif reply.topic in self._agents:
                    self._agents[reply.topic].update(reply)
                elif reply.topic in self._topics:
                    self._topics[reply.topic].put_nowait(reply)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(f"lost the broker {self.target.broker}: {exc}")

    async def watch(self, address: wire.A2aMqttAddress) -> AgentPresence:
        """Follow ``address``'s discovery topic (once per link); its presence."""
        topic = address.discovery_topic
        found = self._agents.get(topic)
        if found is None:
            found = self._agents[topic] = AgentPresence(address)
            await self._client.subscribe(topic, qos=1)
        return found

    async def listen(self, topic: str) -> asyncio.Queue[A2aMqttReply]:
        """Subscribe to ``topic`` (no wildcards); its messages arrive in the queue. For a
        hand-made agent: its request topic."""
        queue = self._topics.setdefault(topic, asyncio.Queue())
        await self._client.subscribe(topic, qos=1)
        return queue

    def expect(self, correlation: bytes) -> asyncio.Queue[A2aMqttReply]:
        """The queue the replies to ``correlation`` arrive in, until ``forget``."""
        return self._waiting.setdefault(correlation, asyncio.Queue())

    def forget(self, correlation: bytes) -> None:
        self._waiting.pop(correlation, None)

    async def publish(
        self,
        topic: str,
        body: Mapping[str, Any] | bytes,
        *,
        correlation: bytes | None = None,
        response_topic: str | None = None,
        user_properties: Mapping[str, str] | None = None,
        expiry: int | None = None,
        retain: bool = False,
    ) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK.

        Raises ``PublishRefusedError`` when the PUBACK's reason code says the
        broker refused it (0x87 not authorized, by its ACL): not retryable.
        A link lost before or meanwhile raises ``ConnectionError``.
        """
        props = publish_properties(
            correlation, response_topic, user_properties=user_properties, expiry=expiry
        )
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            await self._client.publish_acked(
                topic,
                payload,
                properties=props,
                broker=self.target.broker,
                lost=self.lost,
                retain=retain,
            )
        except ConnectionError as exc:  # say why the link was lost, when the reader knows
            raise ConnectionError(self.error or str(exc)) from None

    async def request(
        self, topic: str, body: Mapping[str, Any], *, expiry: int | None = None
    ) -> tuple[bytes, asyncio.Queue[A2aMqttReply]]:
        """Send a request with this link's Response Topic and fresh Correlation Data; the
        correlation and the queue its replies arrive in (``forget`` it when done)."""
        correlation = os.urandom(16)
        queue = self.expect(correlation)
        try:
            await self.publish(
                topic, body, correlation=correlation, response_topic=self.reply_topic, expiry=expiry
            )
        except BaseException:
            self.forget(correlation)
            raise
        return correlation, queue
