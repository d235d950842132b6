"""weft actions as an A2A agent over MQTT (docs/a2a-mqtt.md): the responder side.

``A2aMqttAgent`` publishes the agent's A2A card, retained, on its discovery
topic (``a2a-status: online``), answers JSON-RPC requests on its request
topic (and, with ``pool``, on the pool's shared subscription), and on
``stop`` re-publishes the card ``offline``. Its Will (``will()``) is the
same card ``offline`` with ``a2a-status-source: lwt``, so a crash is
announced by the broker; the bus that carries the agent must be connected
with it and with ``client_id`` (``{org}/{unit}/{agent}``, as the profile
asks). ``serve_a2a_mqtt`` does both.

Requests, per the profile:

- ``SendMessage`` runs the action the message names (``A2aCalls``) under the
  requester's task id, and replies with the finished task; a task id the
  agent holds already is not run again: the reply is that task, once it has
  finished (a retry after a lost reply). ``SendStreamingMessage`` replies
  with the task ``working``, then a ``statusUpdate`` ``working`` per
  ``ctx.progress`` report of the call (its text the status message's text,
  fraction and data in ``metadata.weftProgress``: ``progress_message``),
  each piece of LLM text as a chunk of the answer artifact (an
  ``artifactUpdate`` with ``append``: ``weft.protocols.a2a_stream``; the
  call's agents are asked to stream unless the request's metadata says
  ``weftStreamText: false``), then the whole answer artifact (``lastChunk``,
  replacing the chunks), then the final ``statusUpdate``, all on the
  request's correlation. A blocking ``SendMessage`` gets no pieces;
- ``GetTask`` and ``CancelTask`` (``{"id": task_id}``) read or cancel a task;
- a missing or non-UUID task id, or a request without Correlation Data, is
  ``-32005 transport_protocol_error``; a context id other than the task's is
  ``-32602``; a request arriving while the agent stops is ``-32004
  responder_unavailable``. A request without a Response Topic is dropped:
  there is nowhere to answer.

A failed task's status message carries the error's text and weft's
``ErrorInfo``, less the traceback of what the action raised: logged, not
sent, unless ``send_tracebacks`` (``served_errors``). Every reply carries
``a2a-responder-agent-id``, so a pooled request's requester learns which
replica holds its task. At most ``concurrency`` actions run at once; the
other requests wait their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from weft.agents.streaming import stream_text
from weft.protocols import ActionResult, ActionState, Message, MessageProperties
from weft.protocols import a2a_mqtt as wire
from weft.protocols.a2a import (
    MQTT_JSONRPC_BINDING,
    a2a_agent_card,
    a2a_interface,
    error_metadata,
    progress_message,
    value_to_parts,
)
from weft.protocols.a2a_stream import RESULT_ARTIFACT, text_wanted
from weft.protocols.human_input import question_of
from weft.protocols.streaming import DELTA_FIELD, is_text_delta
from weft.runtime.bus.base import Bus, Subscription
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.interop.a2a_calls import A2aCalls, A2aRequestError
from weft.runtime.interop.a2a_tasks import HeldTask, TaskBook
from weft.runtime.tracing.spans import Tracer

_log = logging.getLogger(__name__)


def _text_message(text: str, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_AGENT",
        "parts": [{"text": text}],
    }
    if metadata:
        message["metadata"] = dict(metadata)
    return message


def _report(task: HeldTask, message: str, fraction: float | None, data: dict[str, Any]) -> None:
    """A call's progress report: a piece of text is a chunk, anything else a status."""
    if is_text_delta(data):
        delta = data.get(DELTA_FIELD)
        if isinstance(delta, str):
            task.report_text(delta)
        return
    task.report(progress_message(message, fraction, data))


class _Refused(Exception):
    """A request answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class A2aMqttAgent:
    """``actions`` served at ``address`` over A2A's MQTT binding (module docstring)."""

    def __init__(
        self,
        actions: Any,
        address: wire.A2aMqttAddress,
        *,
        broker_url: str,
        pool: str | None = None,
        name: str | None = None,
        concurrency: int = 8,
        task_limit: int = 10_000,
        send_tracebacks: bool = False,
        tracer: Tracer | None = None,
    ) -> None:
        registry = actions if isinstance(actions, ActionRegistry) else ActionRegistry(actions)
        self.calls = A2aCalls(
            registry, send_tracebacks=send_tracebacks, tracer=tracer, protocol="a2a-mqtt"
        )
        self.address = address
        self.pool = wire.check_identifier(pool, "pool id") if pool else None
        self.tasks = TaskBook(task_limit)
        self._slots = asyncio.Semaphore(concurrency)
        self._bus: Bus | None = None
        self._subs: list[Subscription] = []
        self._readers: list[asyncio.Task[None]] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopping = False
        binding = {
            "uri": wire.A2A_MQTT_BINDING_URI,
            "description": "A2A over MQTT (EMQX profile 0.1) as weft serves it: docs/a2a-mqtt.md",
            "required": False,
            "params": {
                "orgId": address.org,
                "unitId": address.unit,
                "agentId": address.agent,
                "requestTopic": address.request_topic,
                **(
                    {"poolId": self.pool, "poolTopic": address.pool_topic(self.pool)}
                    if self.pool
                    else {}
                ),
            },
        }
        self.card = a2a_agent_card(
            name or address.agent,
            self.calls.specs(),
            interfaces=[a2a_interface(broker_url, MQTT_JSONRPC_BINDING)],
            extensions=[binding],
            streaming=True,
        )

    @property
    def client_id(self) -> str:
        return self.address.client_id

    def _card_message(self, status: str, source: str) -> Message:
        return Message(
            topic=self.address.discovery_topic,
            payload=json.dumps(self.card).encode(),
            qos=1,
            retain=True,
            properties=MessageProperties(
                user_properties={wire.STATUS: status, wire.STATUS_SOURCE: source}
            ),
        )

    def will(self) -> Message:
        """The Will the agent's connection must carry: its card, ``offline``, from ``lwt``."""
        return self._card_message(wire.OFFLINE, "lwt")

    async def start(self, bus: Bus) -> None:
        """Subscribe, then announce the card ``online`` (so no request finds no one)."""
        self._bus = bus
        self._stopping = False
        filters = [self.address.request_topic]
        if self.pool:
            filters.append(wire.shared_pool_filter(self.address.org, self.address.unit, self.pool))
        for pattern in filters:
            sub = await bus.subscribe(pattern)
            self._subs.append(sub)
            self._readers.append(asyncio.create_task(self._read(sub), name=f"a2a-mqtt {pattern}"))
        await self._publish_card(wire.ONLINE)

    async def _publish_card(self, status: str) -> None:
        assert self._bus is not None
        card = self._card_message(status, "agent")
        await self._bus.publish(
            card.topic, card.payload, qos=1, retain=True, properties=card.properties
        )

    def request_stop(self) -> None:
        """Refuse new requests from now on (``-32004``); ``stop`` then drains and leaves."""
        self._stopping = True

    async def stop(self, drain_timeout: float = 10.0, *, unregister: bool = False) -> None:
        """Refuse new requests, let running ones finish (up to ``drain_timeout`` s), go offline.

        ``unregister`` then clears the retained card (the profile's way to
        leave for good); by default the card stays, marked ``offline``.
        """
        if self._bus is None:
            return
        self.request_stop()
        if self._handlers:
            _, pending = await asyncio.wait(set(self._handlers), timeout=drain_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for sub in self._subs:
            await sub.close()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._publish_card(wire.OFFLINE)
            if unregister:
                await self._bus.publish(self.address.discovery_topic, b"", qos=1, retain=True)
        self._subs.clear()
        self._readers.clear()
        self._bus = None

    async def _read(self, sub: Subscription) -> None:
        async for message in sub:
            handler = asyncio.create_task(self._handle(message), name="a2a-mqtt request")
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)

    # -- one request ------------------------------------------------------------------

    async def _reply(self, request: Message, body: dict[str, Any]) -> None:
        assert self._bus is not None
        props = MessageProperties(user_properties={wire.RESPONDER: self.address.agent})
        await self._bus.reply(request, json.dumps(body).encode(), properties=props)

    async def _handle(self, request: Message) -> None:
        props = request.properties
        if not props.response_topic:
            _log.warning("A2A request on %s without a Response Topic dropped", request.topic)
            return
        if props.correlation_data is None:
            assert self._bus is not None
            refusal = wire.jsonrpc_error(
                None, wire.TRANSPORT_PROTOCOL_ERROR, "the request has no MQTT Correlation Data"
            )
            responder = MessageProperties(user_properties={wire.RESPONDER: self.address.agent})
            await self._bus.publish(
                props.response_topic, json.dumps(refusal).encode(), properties=responder
            )
            return
        request_id: Any = None
        try:
            body = self._parse(request)
            request_id = body.get("id")
            if not isinstance(body.get("params", {}), dict):  # the id is known: it is echoed
                raise _Refused(wire.INVALID_PARAMS, "'params' must be an object")
            if self._stopping:
                raise _Refused(wire.RESPONDER_UNAVAILABLE, "the agent is stopping")
            await self._dispatch(request, body)
        except _Refused as exc:
            await self._reply(request, wire.jsonrpc_error(request_id, exc.code, str(exc)))
        except Exception as exc:  # a bug here must not kill the agent: tell the requester
            _log.exception("A2A request on %s failed", request.topic)
            error = wire.jsonrpc_error(
                request_id, wire.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"
            )
            with contextlib.suppress(Exception):
                await self._reply(request, error)

    def _parse(self, request: Message) -> dict[str, Any]:
        assert self._bus is not None
        refusal = self._bus.refuse(request.payload)
        if refusal is not None:
            raise _Refused(wire.INVALID_REQUEST, f"request refused: {refusal}")
        try:
            body = json.loads(request.payload)
        except ValueError as exc:
            raise _Refused(wire.PARSE_ERROR, f"the request is not JSON: {exc}") from None
        if (
            not isinstance(body, dict)
            or body.get("jsonrpc") != "2.0"
            or not isinstance(body.get("method"), str)
        ):
            raise _Refused(wire.INVALID_REQUEST, "not a JSON-RPC 2.0 request")
        return body

    async def _dispatch(self, request: Message, body: dict[str, Any]) -> None:
        method, params, request_id = body["method"], body.get("params") or {}, body.get("id")
        if method in (wire.SEND_MESSAGE, wire.SEND_STREAMING_MESSAGE):
            streaming = method == wire.SEND_STREAMING_MESSAGE
            await self._send_message(request, request_id, params, streaming=streaming)
        elif method == wire.GET_TASK:
            task = self._task(params)
            await self._reply(request, wire.jsonrpc_result(request_id, task.as_json()))
        elif method == wire.CANCEL_TASK:
            task = self._task(params)
            if task.terminal:
                raise _Refused(wire.TASK_NOT_CANCELABLE, f"task {task.id} is {task.state}")
            if task.runner is not None:
                task.runner.cancel()
            task.set_state("TASK_STATE_CANCELED")
            await self._reply(request, wire.jsonrpc_result(request_id, task.as_json()))
        else:
            raise _Refused(wire.METHOD_NOT_FOUND, f"no method {method!r} (A2A 1.0 names)")

    def _task(self, params: Mapping[str, Any]) -> HeldTask:
        task = self.tasks.get(str(params.get("id", "")))
        if task is None:
            raise _Refused(wire.TASK_NOT_FOUND, f"no task {params.get('id')!r} here")
        return task

    def _held_task(self, request: Message, message: Mapping[str, Any]) -> HeldTask:
        task_id = message.get("taskId")
        if not task_id or not wire.is_uuid(task_id):
            raise _Refused(
                wire.TRANSPORT_PROTOCOL_ERROR,
                "the message needs a requester-made UUID in 'taskId' (A2A over MQTT)",
            )
        context_id = str(message.get("contextId") or "")
        on_wire = request.properties.user_properties.get(wire.CONTEXT)
        if on_wire is not None and context_id and on_wire != context_id:
            raise _Refused(wire.INVALID_PARAMS, f"{wire.CONTEXT} {on_wire!r} != contextId")
        held = self.tasks.get(str(task_id))
        if held is not None:
            if context_id and context_id != held.context_id:
                raise _Refused(
                    wire.INVALID_PARAMS,
                    f"task {task_id} belongs to context {held.context_id!r}, not {context_id!r}",
                )
            return held
        return self.tasks.add(HeldTask(str(task_id), context_id or str(uuid.uuid4())))

    async def _send_message(
        self, request: Message, request_id: Any, params: Mapping[str, Any], *, streaming: bool
    ) -> None:
        message = params.get("message")
        if not isinstance(message, dict):
            raise _Refused(wire.INVALID_PARAMS, "SendMessage needs params.message")
        parts = message.get("parts")
        if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
            raise _Refused(wire.INVALID_PARAMS, "message.parts must be a list of Part objects")
        task = self._held_task(request, message)
        if task.waiting and task.runner is not None and task.runner.done():
            task.go_on()  # this message answers the question the task asked
        if task.runner is None and not task.terminal:
            # Its agents stream text only for a streaming request whose sender reads it.
            wanted = streaming and text_wanted(message.get("metadata"), params.get("metadata"))
            with stream_text(wanted):  # the task copies the context
                task.runner = asyncio.create_task(
                    self._run(task, message, params), name=f"a2a {task.id}"
                )
        if not streaming:
            await task.finished.wait()
            await self._reply(request, wire.jsonrpc_result(request_id, {"task": task.as_json()}))
            return
        updates = task.listen()
        try:
            if not task.settled:
                task_json = {
                    **task.as_json(),
                    "status": {**task.status(), "state": "TASK_STATE_WORKING"},
                }
                await self._reply(request, wire.jsonrpc_result(request_id, {"task": task_json}))
            await self._stream_progress(request, request_id, task, updates)
        finally:
            task.unlisten(updates)
        for artifact in task.artifacts:  # whole: it replaces the chunks streamed
            update = {
                "taskId": task.id,
                "contextId": task.context_id,
                "artifact": artifact,
                "append": False,
                "lastChunk": True,
            }
            await self._reply(request, wire.jsonrpc_result(request_id, {"artifactUpdate": update}))
        final = {"taskId": task.id, "contextId": task.context_id, "status": task.status()}
        await self._reply(request, wire.jsonrpc_result(request_id, {"statusUpdate": final}))

    async def _stream_progress(
        self,
        request: Message,
        request_id: Any,
        task: HeldTask,
        updates: asyncio.Queue[dict[str, Any]],
    ) -> None:
        """Reply with each progress ``statusUpdate`` and text chunk of ``task`` until it
        has finished, then with those still queued (all are made before it finishes)."""
        while not task.settled:
            got = asyncio.ensure_future(updates.get())
            done = asyncio.ensure_future(task.finished.wait())
            try:
                await asyncio.wait({got, done}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                got.cancel()
                done.cancel()
            if got.done() and not got.cancelled():
                await self._reply(request, wire.jsonrpc_result(request_id, got.result()))
        while not updates.empty():
            await self._reply(request, wire.jsonrpc_result(request_id, updates.get_nowait()))

    async def _run(
        self, task: HeldTask, message: Mapping[str, Any], params: Mapping[str, Any]
    ) -> None:
        try:
            async with self._slots:
                task.set_state("TASK_STATE_WORKING")
                result = await self.calls.run(
                    message.get("parts") or [],
                    message.get("metadata"),
                    params.get("metadata"),
                    task_id=task.id,
                    on_progress=lambda text, fraction, data: _report(task, text, fraction, data),
                    client=task.context_id,
                )
        except A2aRequestError as exc:
            task.set_state("TASK_STATE_REJECTED", _text_message(str(exc)))
            return
        except asyncio.CancelledError:
            if not task.terminal:
                task.set_state("TASK_STATE_CANCELED")
            raise
        except Exception as exc:  # a fault of the mapping, not of the action: still an answer
            _log.exception("A2A task %s failed", task.id)
            result = ActionResult.from_exception(task.id, exc, source=self.address.agent)
            result = self.calls.served(result, self.address.agent, task.id, logged=True)
        self._finish(task, result)

    @staticmethod
    def _finish(task: HeldTask, result: ActionResult) -> None:
        if task.terminal:  # canceled while the call finished
            return
        if result.ok:
            task.artifacts = [
                {
                    "artifactId": task.answer_id,
                    "name": RESULT_ARTIFACT,
                    "parts": value_to_parts(result.output),
                }
            ]
            task.set_state("TASK_STATE_COMPLETED")
            return
        if result.state is ActionState.NEEDS_INPUT:
            asked = question_of(result.error)
            text = asked["question"] if asked else result.error.message if result.error else ""
            task.set_state("TASK_STATE_INPUT_REQUIRED", _text_message(text, error_metadata(result)))
            return
        text = result.error.message if result.error else str(result.state)
        task.set_state("TASK_STATE_FAILED", _text_message(text, error_metadata(result)))


@contextlib.asynccontextmanager
async def serve_a2a_mqtt(
    actions: Any,
    broker_url: str,
    address: wire.A2aMqttAddress,
    *,
    pool: str | None = None,
    name: str | None = None,
    concurrency: int = 8,
    unregister: bool = False,
    send_tracebacks: bool = False,
    tracer: Tracer | None = None,
) -> AsyncIterator[A2aMqttAgent]:
    """``actions`` served over A2A's MQTT binding on its own connection while the block runs
    (``unregister``: clear the card at the end, see ``A2aMqttAgent.stop``;
    ``send_tracebacks``: failed tasks keep their tracebacks, ``served_errors``;
    ``tracer``: each task is a run in it, ``served_trace``)."""
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

    agent = A2aMqttAgent(
        actions,
        address,
        broker_url=broker_url,
        pool=pool,
        name=name,
        concurrency=concurrency,
        send_tracebacks=send_tracebacks,
        tracer=tracer,
    )
    async with MqttBus(broker_url, client_id=agent.client_id, will=agent.will()) as bus:
        await agent.start(bus)
        try:
            yield agent
        finally:
            await agent.stop(unregister=unregister)
