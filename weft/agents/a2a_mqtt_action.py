"""An A2A agent reachable over MQTT as a weft action (``A2aMqttAction``, ``from_a2a_mqtt``).

The requester's side of weft's A2A-over-MQTT binding (docs/a2a-mqtt.md,
EMQX's profile 0.1): any agent that serves the profile on a broker (weft's
own ``weft agent serve --a2a``, or another vendor's) becomes an action. The
agent is named by a URL, ``mqtt://HOST:PORT/ORG/UNIT/AGENT_ID`` (``mqtts://``
for TLS, with the bus's options ``?ca=&cert=&key=&insecure=1``;
``user:password@`` for the broker's login); in Python
``await weft.agents.from_a2a(url)`` (or ``from_a2a_mqtt``), in YAML
``actions: {x: {a2a: "mqtt://..."}}``.

One call:

- the agent's retained card is read from ``$a2a/v1/discovery/ORG/UNIT/AGENT``
  (once for the spec; the link keeps following it, so the agent's
  ``a2a-status`` is known at every call);
- a ``SendStreamingMessage`` when the agent's card says
  ``capabilities.streaming`` (else a ``SendMessage``; JSON-RPC 2.0) goes to
  its request topic at QoS 1, with the link's Response Topic, fresh
  Correlation Data, a Message Expiry of the time left to the call's
  deadline, and a task id made from the call id and attempt (a UUID, as the
  profile wants: the same attempt sent again names the same task, which the
  agent does not run twice);
- a stream's replies are folded as they arrive (``TaskStream``): each
  ``working`` status with a message is passed on to ``ctx.progress`` (text,
  and a weft agent's fraction and data), the text of each artifact chunk as
  streamed text (``relay_event``; the request's ``metadata.weftStreamText``
  says whether anyone reads it), and the reply that ends the stream
  (``ends_stream``: a terminal or interrupted status, or an error) ends the call;
- the answer maps as for HTTP (``weft.protocols.a2a.response_result``):
  completed → ``ok``, failed/rejected → ``error`` (weft's own error when the
  agent is weft), canceled → ``cancelled``, input/auth-required →
  ``needs_input`` (its ``error.details.a2a_task`` continues the task when
  passed back as the argument ``a2a_task``: the same task id and context,
  ``TurnOf``); a JSON-RPC error is an ``error`` (``-32004``, the agent
  stopping, is retryable);
- the broker refusing the request (MQTT v5 PUBACK reason code 0x87, not
  authorized by its ACL) is a ``PublishRefused`` error at once, naming the
  request topic, not retryable;
- the broker refusing the connection (a wrong login: CONNACK 0x86 bad
  username or password, 0x87 not authorized; TLS: its certificate not
  trusted, ``?ca=FILE`` missing) is a ``BrokerRefused`` error at once,
  naming the broker (host and port, never the password) and the cause,
  not retryable (``A2aBrokerRefused`` from ``from_a2a`` and discovery);
- retryable errors: no card, or a card ``offline`` (stopped, or its Will),
  when the call starts or while it waits; the broker unreachable or lost;
- the call's deadline (and ``timeout``) bound the wait: a ``timeout`` result,
  and a ``CancelTask`` sent to the agent; a cancelled call sends
  ``CancelTask`` too.

The MQTT connection (``A2aMqttLink``) is opened on first use, one per event
loop, and reopened after the broker was lost. ``aiomqtt`` is the optional
``a2a`` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from weft.agents._a2a_base import A2aCardAction, TurnOf, relay_event, stream_metadata
from weft.agents.a2a_mqtt_link import (
    A2aAgentNotFound,
    A2aBrokerRefused,
    A2aMqttLink,
    A2aMqttReply,
    A2aMqttTarget,
    AgentPresence,
    jsonrpc_request,
    send_message_params,
)
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionResult,
    PublishRefusedError,
)
from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import TASK_DETAILS, TaskStream, a2a_name, response_result
from weft.protocols.mqtt_refusal import RESET_IN_TLS_HANDSHAKE, reset_in_tls_handshake

__all__ = [
    "DISCOVERY_TIMEOUT",
    "A2aAgentNotFound",
    "A2aBrokerRefused",
    "A2aMqttAction",
    "discover_a2a_mqtt",
    "discover_a2a_mqtt_sync",
    "from_a2a_mqtt",
]

#: Seconds to wait for an agent's retained card when none is there yet.
DISCOVERY_TIMEOUT = 5.0
#: Seconds given to the ``CancelTask`` sent after a timed-out or cancelled call.
_CANCEL_GRACE = 2.0
_TASK_IDS = uuid.UUID("8f4c2b1e-5a0d-4e7f-9c3b-a2a0a2a0a2a0")

A2A_MQTT_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string", "description": "The message text."}},
    "additionalProperties": True,
}


def _task_id(call: ActionCall) -> str:
    """The requester-made task id: the same for the same call and attempt (UUID, v5)."""
    return str(uuid.uuid5(_TASK_IDS, f"{call.call_id}:{call.attempt}"))


async def _open_link(target: A2aMqttTarget, timeout: float) -> A2aMqttLink:
    link = A2aMqttLink(target, connect_timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            return await link.open()
    except TimeoutError:
        raise A2aAgentNotFound(
            f"the broker {target.broker} did not accept a connection within {timeout:g}s"
        ) from None
    except (ImportError, A2aBrokerRefused):
        raise
    except Exception as exc:
        hint = f" ({RESET_IN_TLS_HANDSHAKE})" if target.tls and reset_in_tls_handshake(exc) else ""
        raise A2aAgentNotFound(f"cannot reach the broker {target.broker}: {exc}{hint}") from None


async def _wait_seen(presence: AgentPresence, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await presence.seen.wait()


async def discover_a2a_mqtt(url: str, *, timeout: float = DISCOVERY_TIMEOUT) -> dict[str, Any]:
    """The retained A2A card of the agent at ``url`` (``mqtt://HOST:PORT/ORG/UNIT/AGENT``).

    ``ValueError`` for a malformed URL; ``A2aAgentNotFound`` when the broker
    cannot be reached or no card arrives on the agent's discovery topic
    within ``timeout`` seconds (the message names the topic); its subclass
    ``A2aBrokerRefused`` when the broker refused the login or TLS failed
    (the message names the broker and the cause). A card marked
    ``offline`` is returned: the agent is known, and may come back.
    """
    target = A2aMqttTarget.parse(url)
    assert target.agent is not None
    link = await _open_link(target, timeout)
    try:
        presence = await link.watch(target.agent)
        await _wait_seen(presence, timeout)
    finally:
        await link.close()
    if presence.card is None:
        raise A2aAgentNotFound(
            f"{presence.describe()} at {target.broker} (waited {timeout:g}s)"
            if presence.seen.is_set()
            else f"no A2A agent card on {target.agent.discovery_topic} at {target.broker} "
            f"within {timeout:g}s: is the agent served there?"
        )
    return presence.card


def discover_a2a_mqtt_sync(url: str, *, timeout: float = DISCOVERY_TIMEOUT) -> dict[str, Any]:
    """``discover_a2a_mqtt`` for synchronous code (loading a workflow file), even when an
    event loop runs in this thread: it runs on a thread of its own."""
    found: dict[str, Any] = {}

    def run() -> None:
        try:
            found["card"] = asyncio.run(discover_a2a_mqtt(url, timeout=timeout))
        except BaseException as exc:  # handed to the caller's thread
            found["error"] = exc

    thread = threading.Thread(target=run, name="a2a-mqtt discovery", daemon=True)
    thread.start()
    thread.join()
    if "error" in found:
        raise found["error"]
    card: dict[str, Any] = found["card"]
    return card


class A2aMqttAction(A2aCardAction):
    """The A2A agent at ``url`` (``mqtt://HOST:PORT/ORG/UNIT/AGENT_ID``) as an action."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        skill: str | None = None,
        description: str | None = None,
        card: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        discovery_timeout: float = DISCOVERY_TIMEOUT,
    ) -> None:
        self.target = A2aMqttTarget.parse(url)
        assert self.target.agent is not None
        self.address: wire.A2aMqttAddress = self.target.agent
        self.url = str(self.target)
        self.discovery_timeout = discovery_timeout
        found = name or (a2a_name(str(card.get("name", ""))) if card else None)
        super().__init__(
            name=found or a2a_name(self.address.agent),
            skill=skill,
            description=description,
            default_description=f"A2A agent {self.address} over MQTT at {self.target.broker}",
            input_schema=A2A_MQTT_INPUT_SCHEMA,
            card=card,
            timeout=timeout,
        )
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, A2aMqttLink] = (
            weakref.WeakKeyDictionary()
        )
        #: One opener at a time per loop: concurrent first calls (a foreach) share one link.
        self._opening: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"A2aMqttAction({self.url!r}, name={self._name!r})"

    async def _link(self, timeout: float) -> A2aMqttLink:
        """This event loop's link, (re)opened when there is none or the broker was lost."""
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is not None and not link.lost.is_set():
            return link
        async with self._opening.setdefault(loop, asyncio.Lock()):
            link = self._links.get(loop)
            if link is not None and not link.lost.is_set():
                return link
            if link is not None:
                await link.close()
            link = await _open_link(self.target, timeout)
            self._links[loop] = link
            return link

    async def resolve(self) -> dict[str, Any]:
        """Read the agent's card (once) and fill the spec's description and capability card;
        ``A2aAgentNotFound`` when there is none within ``discovery_timeout``."""
        if self._card is None:
            link = await self._link(self.discovery_timeout)
            presence = await link.watch(self.address)
            await _wait_seen(presence, self.discovery_timeout)
            if presence.card is None:
                raise A2aAgentNotFound(
                    f"{presence.describe()} at {self.target.broker} "
                    f"(waited {self.discovery_timeout:g}s)"
                )
            self._use_card(presence.card)
        assert self._card is not None
        return self._card

    def _fail(
        self, call: ActionCall, error_type: str, message: str, *, retryable: bool
    ) -> ActionResult:
        return ActionResult.failure(
            call.call_id, error_type, f"{self._name}: {message}", retryable=retryable
        )

    async def _invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        started = time.monotonic()
        timeout = self._call_timeout(call)
        try:
            turn = TurnOf.of(call.arguments)
        except ValueError as exc:
            return ActionResult.failure(
                call.call_id, "ValidationError", f"{self._name}: {exc}", field=TASK_DETAILS
            )
        try:
            async with asyncio.timeout(timeout):
                result = await self._call(call, turn, ctx)
        except TimeoutError:
            return self._timed_out(call, self.url, timeout)
        except A2aBrokerRefused as exc:  # the URL's login or TLS: again changes nothing
            return self._fail(call, "BrokerRefused", str(exc), retryable=False)
        except A2aAgentNotFound as exc:
            return self._fail(call, "BrokerUnavailable", str(exc), retryable=True)
        return self._timed(result, started)

    async def _call(self, call: ActionCall, turn: TurnOf, ctx: ActionContext) -> ActionResult:
        link = await self._link(self.discovery_timeout)
        presence = await link.watch(self.address)
        await _wait_seen(presence, self.discovery_timeout)
        if not presence.online:
            why = f"{presence.describe()} at {self.target.broker}"
            return self._fail(call, "A2aAgentUnavailable", why, retryable=True)
        if self._card is None and presence.card is not None:
            self._use_card(presence.card)
        task_id = turn.task_id or _task_id(call)
        params = send_message_params(
            turn.arguments, task_id=task_id, context_id=turn.context_id, skill=self.skill
        )
        expiry = None
        if call.deadline is not None:
            expiry = max(1, math.ceil(call.deadline - time.time()))
        card = presence.card or self._card or {}
        streaming = bool((card.get("capabilities") or {}).get("streaming"))
        method = wire.SEND_STREAMING_MESSAGE if streaming else wire.SEND_MESSAGE
        if streaming:
            params["metadata"] = stream_metadata()
        correlation: bytes | None = None
        try:
            try:
                correlation, replies = await link.request(
                    self.address.request_topic, jsonrpc_request(method, params), expiry=expiry
                )
            except PublishRefusedError as exc:  # the broker's ACL: sending again changes nothing
                return self._fail(call, "PublishRefused", str(exc), retryable=False)
            except ConnectionError as exc:
                return self._fail(call, "BrokerLost", str(exc), retryable=True)
            stream = TaskStream()
            while True:
                reply = await self._await_reply(call, link, presence, replies)
                if isinstance(reply, ActionResult):
                    return reply
                body = reply.body
                if not streaming or not isinstance(body, dict) or wire.ends_stream(body):
                    return self._result(call, reply, stream)
                result = body.get("result")
                if isinstance(result, dict):
                    relay_event(ctx, stream, result)
        except BaseException:
            # Timed out or cancelled, even while the request's PUBACK was still on its way
            # (the agent may have started by then): the agent need not finish the task.
            await asyncio.shield(self._cancel_task(link, task_id))
            raise
        finally:
            if correlation is not None:
                link.forget(correlation)

    async def _await_reply(
        self,
        call: ActionCall,
        link: A2aMqttLink,
        presence: AgentPresence,
        replies: asyncio.Queue[A2aMqttReply],
    ) -> A2aMqttReply | ActionResult:
        """The next reply, or a retryable error as soon as the agent goes offline or the
        broker is lost (whichever comes first).

        Both are checked before each wait, not only on a wake-up: the agent's offline
        card may have come while the request's PUBACK was on its way, and
        ``presence.changed`` wakes only those already waiting then.
        """
        while True:
            if not replies.empty():
                return replies.get_nowait()
            if link.lost.is_set():
                return self._fail(
                    call, "BrokerLost", link.error or "lost the broker", retryable=True
                )
            if not presence.online:
                why = f"{presence.describe()} while the call was waiting for its answer"
                return self._fail(call, "A2aAgentUnavailable", why, retryable=True)
            got = asyncio.ensure_future(replies.get())
            changed = asyncio.ensure_future(presence.changed.wait())
            lost = asyncio.ensure_future(link.lost.wait())
            waits = {got, changed, lost}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waits:
                    waiter.cancel()
            if got.done() and not got.cancelled():
                return got.result()

    def _result(self, call: ActionCall, reply: A2aMqttReply, stream: TaskStream) -> ActionResult:
        """The answer a (last) reply gives, the stream's earlier replies folded in."""
        body = reply.body
        if not isinstance(body, dict):
            return self._fail(call, "A2AProtocolError", "the reply is not JSON", retryable=False)
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            retryable = code == wire.RESPONDER_UNAVAILABLE
            text = f"A2A error {code}: {error.get('message', '')}"
            return self._fail(call, "A2ARequestError", text, retryable=retryable)
        result = body.get("result")
        if not isinstance(result, dict):
            return self._fail(
                call, "A2AProtocolError", "the reply has no 'result' or 'error'", retryable=False
            )
        stream.add(result)
        response = stream.response() or result
        return response_result(call.call_id, response, source=self._name)

    async def _cancel_task(self, link: A2aMqttLink, task_id: str) -> None:
        """Ask the agent to cancel ``task_id`` (best effort: its reply is not awaited)."""
        if link.lost.is_set():
            return
        body = jsonrpc_request(wire.CANCEL_TASK, {"id": task_id})
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CANCEL_GRACE):
                correlation, _ = await link.request(self.address.request_topic, body)
                link.forget(correlation)

    async def aclose(self) -> None:
        """Close this event loop's MQTT connection (others close with their loops)."""
        link = self._links.pop(asyncio.get_running_loop(), None)
        if link is not None:
            await link.close()


async def from_a2a_mqtt(
    url: str,
    *,
    name: str | None = None,
    skill: str | None = None,
    timeout: float | None = None,
    discovery_timeout: float = DISCOVERY_TIMEOUT,
) -> A2aMqttAction:
    """The A2A agent at ``mqtt://HOST:PORT/ORG/UNIT/AGENT_ID`` as an action named after its
    card (or ``name``); ``A2aAgentNotFound`` when its card is not on the broker."""
    action = A2aMqttAction(
        url, name=name, skill=skill, timeout=timeout, discovery_timeout=discovery_timeout
    )
    card = await action.resolve()
    if name is None:
        action._rename(a2a_name(str(card.get("name", ""))) or action._name)
    return action
