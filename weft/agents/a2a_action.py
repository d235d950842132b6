"""An A2A agent reachable over HTTP as a weft action (``A2aAction``, ``from_a2a``).

A user with an A2A agent should be able to put it in a workflow, give it to
an ``LLMAgent`` or serve it with ``weft agent serve`` without glue: in YAML
``actions: {convert: {a2a: "http://host:port"}}``, in Python
``A2aAction(url, name="convert")`` or ``await from_a2a(url)`` (which reads
the agent card first and takes its name, description and skills).

What maps to what (docs/interop.md has the table):

- the call's arguments become the message's parts: ``text`` a text part,
  the other keys one data part (``weft.protocols.a2a.value_to_parts``);
  ``skill`` (if set) goes in the message's ``metadata.skill``;
- the call goes through ``a2a-sdk``'s client (JSON-RPC, or whatever binding
  the card offers that the SDK speaks): a ``SendStreamingMessage`` when the
  card says ``capabilities.streaming``, else one blocking ``SendMessage``
  (the SDK chooses). Each ``working`` status update with a message that the
  stream brings is passed on to ``ctx.progress`` as it arrives (its text the
  message; a weft agent's fraction and data too, ``progress_of``), and the
  text of each chunk of an artifact as streamed text (``text_delta``: a
  remote LLM's answer shows in ``weft run --stream`` as it comes); the
  request's metadata says whether anyone reads that text
  (``weftStreamText``, ``weft.protocols.a2a_stream``); the stream's end
  (``TaskStream``) is the answer;
- the answer (a message, or the task's artifacts) is the output
  (``parts_to_value``); failed, canceled and input-required tasks are
  error, cancelled and needs_input results (``response_result``); a
  needs_input result's ``error.details.a2a_task`` is what the argument
  ``a2a_task`` takes to send the answer to the same task (``TurnOf``);
- the call's deadline is the request's timeout; cancelling the call closes
  the request (the remote task is not sent ``CancelTask``);
- the card is read once (``/.well-known/agent-card.json``), when first
  needed, and its capability card (``capability_from_a2a``) is the spec's;
- ``token`` is sent as ``Authorization: Bearer <token>`` with every request
  (an agent served with ``weft a2a serve --http ... --token-env VAR``); an
  agent that answers 401 gives a non-retryable ``Unauthorized`` result naming
  its URL, never the token (``weft.protocols.bearer.refusal``).

An ``mqtt://`` or ``mqtts://`` URL (``mqtt://HOST:PORT/ORG/UNIT/AGENT_ID``)
names an agent on A2A's MQTT binding instead: ``from_a2a`` then gives an
``A2aMqttAction`` (``weft.agents.a2a_mqtt_action``, docs/a2a-mqtt.md).

``a2a-sdk`` is the optional ``a2a`` extra, imported on first use.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from weft.agents._a2a_base import A2aCardAction, TurnOf, relay_event, stream_metadata
from weft.agents.a2a_mqtt_action import A2aMqttAction, from_a2a_mqtt
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionResult,
)
from weft.protocols.a2a import (
    SKILL_METADATA,
    TASK_DETAILS,
    TaskStream,
    a2a_name,
    response_result,
    value_to_parts,
)
from weft.protocols.bearer import authorization, check_token, refusal

__all__ = ["A2aAction", "from_a2a"]

INSTALL_HINT = "calling A2A agents needs the 'a2a' extra: pip install 'weft[a2a]'"

#: The arguments an A2A agent takes: ``text`` for a text part, any other key as data.
A2A_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string", "description": "The message text."}},
    "additionalProperties": True,
}


def _unauthorized(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is an HTTP 401 answer."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        response = getattr(found, "response", None)
        status = getattr(response, "status_code", None) or getattr(found, "status_code", None)
        if status == 401:
            return True
        found = found.__cause__ or found.__context__
    return False


def _sdk() -> Any:
    try:
        import a2a.client
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return a2a.client


class A2aAction(A2aCardAction):
    """The A2A agent at ``url`` as an action (module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        skill: str | None = None,
        description: str | None = None,
        card: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        token: str | None = None,
    ) -> None:
        if url.startswith(("mqtt://", "mqtts://")):
            raise ValueError(
                f"A2aAction({url!r}) calls A2A over HTTP: use A2aMqttAction or "
                "'await from_a2a(url)' for an agent on an MQTT broker"
            )
        self.url = url
        #: The bearer token sent with every request (``None``: none is sent). Not in repr.
        self._token = None if token is None else check_token(token, f"A2aAction({url!r}) token")
        found = name or (a2a_name(str(card.get("name", ""))) if card else None)
        if not found:
            raise ValueError(f"A2aAction({url!r}) needs a name (or use 'await from_a2a(url)')")
        super().__init__(
            name=found,
            skill=skill,
            description=description,
            default_description=f"A2A agent at {url}",
            input_schema=A2A_INPUT_SCHEMA,
            card=card,
            timeout=timeout,
        )
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"A2aAction({self.url!r}, name={self._name!r})"

    async def resolve(self) -> dict[str, Any]:
        """Read the agent card (once) and fill the spec's description and capability card."""
        await self._client()
        assert self._card is not None
        return self._card

    async def _client(self) -> Any:
        """The SDK client for this event loop (httpx clients do not cross loops)."""
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is not None:
            return found[1]
        sdk = _sdk()
        import httpx
        from a2a.types import AgentCard
        from google.protobuf.json_format import MessageToDict, ParseDict

        # Nagle off: a request's headers and body must not wait for the server's delayed ACK.
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        http = httpx.AsyncClient(
            timeout=None,
            transport=httpx.AsyncHTTPTransport(socket_options=nodelay),
            headers=authorization(self._token) if self._token else None,
        )
        try:
            if self._card is None:
                proto = await sdk.A2ACardResolver(http, self.url).get_agent_card()
                self._use_card(MessageToDict(proto))
            else:
                proto = ParseDict(self._card, AgentCard(), ignore_unknown_fields=True)
            # streaming=True: the SDK streams when the card says the agent can, else blocks.
            factory = sdk.ClientFactory(sdk.ClientConfig(httpx_client=http, streaming=True))
            client = factory.create(proto)
        except BaseException:
            await http.aclose()
            raise
        self._clients[loop] = (http, client)
        return client

    def _request(self, turn: TurnOf) -> Any:
        from a2a.types import Message, Part, Role, SendMessageRequest
        from google.protobuf.json_format import ParseDict

        message = Message(
            message_id=uuid.uuid4().hex,
            role=Role.ROLE_USER,
            parts=[ParseDict(p, Part()) for p in value_to_parts(turn.arguments)],
        )
        if turn.task_id:
            message.task_id = turn.task_id
        if turn.context_id:
            message.context_id = turn.context_id
        if self.skill:
            message.metadata.update({SKILL_METADATA: self.skill})
        request = SendMessageRequest(message=message)
        request.metadata.update(stream_metadata())
        return request

    async def _invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        started = time.monotonic()
        timeout = self._call_timeout(call)
        try:
            turn = TurnOf.of(call.arguments)
        except ValueError as exc:
            return ActionResult.failure(
                call.call_id, "ValidationError", f"{self._name}: {exc}", field=TASK_DETAILS
            )
        stream = TaskStream()
        try:
            client = await self._client()
            from a2a.client import ClientCallContext
            from google.protobuf.json_format import MessageToDict

            async with asyncio.timeout(timeout):
                async for event in client.send_message(
                    self._request(turn), context=ClientCallContext(timeout=timeout)
                ):
                    relay_event(ctx, stream, MessageToDict(event))
        except TimeoutError:
            return self._timed_out(call, self.url, timeout)
        except ImportError:
            raise
        except Exception as exc:
            if _unauthorized(exc):
                return ActionResult.failure(
                    call.call_id,
                    "Unauthorized",
                    f"{self._name}: {refusal(self.url, sent_token=self._token is not None)}",
                )
            return ActionResult.from_exception(call.call_id, exc, source=self._name)
        response = stream.response()
        if response is None:
            return ActionResult.failure(
                call.call_id, "A2AProtocolError", f"{self._name}: {self.url} sent no response"
            )
        return self._timed(response_result(call.call_id, response, source=self._name), started)

    async def aclose(self) -> None:
        """Close this event loop's HTTP client (others close with their loops)."""
        found = self._clients.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found[1].close()
            await found[0].aclose()


async def from_a2a(
    url: str,
    *,
    name: str | None = None,
    skill: str | None = None,
    timeout: float | None = None,
    token: str | None = None,
) -> A2aAction | A2aMqttAction:
    """The A2A agent at ``url`` as an action named after its card (or ``name``).

    ``http(s)://`` reads the card from ``/.well-known/agent-card.json``;
    ``mqtt(s)://HOST:PORT/ORG/UNIT/AGENT_ID`` reads the agent's retained card
    on the broker (``from_a2a_mqtt``; ``A2aAgentNotFound`` when there is none).
    ``token`` is the bearer token an HTTP agent wants (``ValueError`` with an
    ``mqtt://`` URL: the broker's own credentials guard those).
    """
    if url.startswith(("mqtt://", "mqtts://")):
        if token is not None:
            raise ValueError(
                f"from_a2a({url!r}, token=...): a bearer token is for an http(s):// agent; "
                "an agent on a broker is guarded by the broker's credentials"
            )
        return await from_a2a_mqtt(url, name=name, skill=skill, timeout=timeout)
    probe = A2aAction(url, name=name or "a2a_agent", skill=skill, timeout=timeout, token=token)
    card = await probe.resolve()
    action = A2aAction(url, name=name, skill=skill, card=card, timeout=timeout, token=token)
    action._clients = probe._clients
    return action
