"""weft actions as an A2A agent over HTTP (JSON-RPC), on ``a2a-sdk``'s server.

``A2aHttpServer(actions, host=..., port=...)`` serves the agent card at
``/.well-known/agent-card.json`` and A2A's JSON-RPC binding at ``/``; it is
what ``weft a2a serve --http`` runs. Each ``SendMessage`` becomes one call
(``A2aCalls``): the task is created ``submitted``, the output becomes the
task's one artifact and the task ``completed``; a failed call leaves it
``failed``, its status message carrying the error text and weft's
``ErrorInfo`` (``ERROR_METADATA``), so a weft caller gets the error back as
it was, less the traceback of what the action raised: that is logged, not
sent, unless ``send_tracebacks`` (``served_errors``). A request naming no
skill this agent has is ``rejected``.
Cancelling a task (``CancelTask``) cancels the call.

The card says ``capabilities.streaming``: on a ``SendStreamingMessage``
(``message/stream``) each ``ctx.progress`` report of the call is a
``working`` status update of the task whose message is the report's text
(its fraction and data in ``metadata.weftProgress``), sent in order and
before the artifact and the final status (``ProgressRelay``). A blocking
``SendMessage`` records the same updates in the task's history. LLM text
streams only to a ``SendStreamingMessage`` (its agents left at
``stream=None`` are asked to stream for it alone, ``stream_text``), as
chunks of the task's ``result`` artifact, then the artifact whole
(``AnswerChunks``, ``weft.protocols.a2a_stream``); a blocking request gets
no pieces.

Given a ``token``, every request but the agent card's must carry
``Authorization: Bearer <token>`` (``http_auth.BearerAuth``; others get 401),
and the card declares the scheme (``securitySchemes``/``securityRequirements``),
so a client reads it, without a token, to learn that one is wanted. The
token is registered as a secret of the process (never written down).

The card says ``capabilities.pushNotifications`` unless push is off: a
client may register webhooks for a task (the four push config methods, or
the config in ``SendMessage``), and each update of the task is POSTed to
them (``a2a_push``), to public addresses only unless ``push_allow`` lists
the hosts allowed (``a2a_push_policy``). With a token the push config
methods want it like every other method.

The card's interface URL is the server's address (an IPv6 host in
brackets); a server bound to every address (``0.0.0.0``, ``::``) names the
address each client reached it by instead (``a2a_card_url``).

The SDK keeps tasks in memory (``InMemoryTaskStore``) for ``GetTask``; the
agent serves in uvicorn on the running event loop, so one process can host
it beside other weft services. ``a2a-sdk`` and ``uvicorn`` are the ``a2a``
extra.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Self

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import Message, Part, Role, Task, TaskState, TaskStatus
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from google.protobuf.json_format import MessageToDict, ParseDict

from weft.agents.streaming import stream_text
from weft.protocols import ActionResult, ActionState
from weft.protocols.a2a import (
    A2A_PROTOCOL_VERSION,
    JSONRPC_BINDING,
    a2a_agent_card,
    a2a_interface,
    error_metadata,
    progress_message,
    value_to_parts,
)
from weft.protocols.a2a_stream import RESULT_ARTIFACT, text_wanted
from weft.protocols.bearer import check_token, declare_bearer
from weft.protocols.human_input import question_of
from weft.protocols.streaming import DELTA_FIELD, is_text_delta
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.interop.a2a_calls import A2aCalls, A2aRequestError
from weft.runtime.interop.a2a_card_url import CardAsReached, as_reached, http_url, is_wildcard
from weft.runtime.interop.a2a_push import A2aPush
from weft.runtime.interop.a2a_push_policy import PushPolicy, PushTarget
from weft.runtime.interop.a2a_validate import agent_card_proto
from weft.runtime.interop.http_auth import BearerAuth
from weft.runtime.interop.http_listen import listening_socket
from weft.runtime.support.secrets import secret
from weft.runtime.tracing.spans import Tracer

_log = logging.getLogger(__name__)

#: The JSON-RPC method (a2a-sdk puts it in ``ServerCallContext.state``) that streams.
STREAMING_METHOD = "SendStreamingMessage"


class ProgressRelay:
    """A call's progress reports (made synchronously, on the loop) sent one after another.

    ``report`` queues; one task sends, in order; ``flush`` waits until all
    are sent, so none comes after the task's final status. A report that
    cannot be sent is logged and dropped: progress never fails the call.
    A piece of streamed text goes to ``send_text`` (in the same order), and
    is dropped when there is none (nobody streams: a blocking request).
    """

    def __init__(
        self,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        send_text: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._send = send
        self._send_text = send_text
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None

    def report(self, message: str, fraction: float | None, data: dict[str, Any]) -> None:
        if is_text_delta(data):
            delta, send_text = data.get(DELTA_FIELD), self._send_text
            if send_text is None or not isinstance(delta, str) or not delta:
                return
            self._put(lambda: send_text(delta))
            return
        report = progress_message(message, fraction, data)
        self._put(lambda: self._send(report))

    def _put(self, send: Callable[[], Awaitable[None]]) -> None:
        self._queue.put_nowait(send)
        if self._sender is None:
            self._sender = asyncio.create_task(self._drain(), name="a2a progress")

    async def _drain(self) -> None:
        while True:
            send = await self._queue.get()
            try:
                await send()
            except Exception:
                _log.debug("A2A progress not sent", exc_info=True)
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)


class AnswerChunks:
    """Streamed text as chunks of the task's answer artifact (``weft.protocols.a2a_stream``).

    The first chunk opens the artifact (``append`` false), the others are
    appended; ``whole`` then sends the output as the same artifact, replacing
    the chunks, with ``lastChunk``: the task holds the answer once. The id is
    the task's own, the same at every turn, so a turn after a question
    replaces the text streamed before it rather than adding to it.
    """

    def __init__(self, updater: TaskUpdater) -> None:
        self._updater = updater
        self.artifact_id = f"{RESULT_ARTIFACT}-{updater.task_id}"
        self._opened = False

    async def add(self, text: str) -> None:
        append, self._opened = self._opened, True
        await self._updater.add_artifact(
            [Part(text=text)], artifact_id=self.artifact_id, name=RESULT_ARTIFACT, append=append
        )

    async def whole(self, parts: list[Part]) -> None:
        await self._updater.add_artifact(
            parts, artifact_id=self.artifact_id, name=RESULT_ARTIFACT, last_chunk=True
        )


def _agent_message(text: str, metadata: dict[str, Any] | None = None) -> Message:
    message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_AGENT, parts=[Part(text=text)])
    if metadata:
        message.metadata.update(metadata)
    return message


class WeftAgentExecutor(AgentExecutor):
    """The SDK's ``AgentExecutor`` for weft actions: one request, one call."""

    def __init__(self, calls: A2aCalls) -> None:
        self.calls = calls

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        task_id, context_id = context.task_id or uuid.uuid4().hex, context.context_id or ""
        if context.current_task is None:
            await event_queue.enqueue_event(
                Task(
                    id=task_id,
                    context_id=context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                    history=[message] if message is not None else [],
                )
            )
        updater = TaskUpdater(event_queue, task_id, context_id)
        if context.current_task is not None:
            # A message to a task that asked (input-required) answers it: the task
            # works again, and a stream of this turn opens by saying so (A2A has a
            # task's stream begin with its state), as the MQTT agent does.
            await updater.start_work()
        parts = [MessageToDict(p) for p in message.parts] if message is not None else []
        meta = MessageToDict(message.metadata) if message is not None else {}
        # Text streams only to a SendStreamingMessage whose sender reads it.
        streams = context.call_context.state.get("method") == STREAMING_METHOD
        streams = streams and text_wanted(meta, context.metadata)
        answer = AnswerChunks(updater)

        async def working(report: dict[str, Any]) -> None:
            await updater.update_status(
                TaskState.TASK_STATE_WORKING, message=ParseDict(report, Message())
            )

        relay = ProgressRelay(working, answer.add if streams else None)
        try:
            with stream_text(streams):
                result = await self.calls.run(
                    parts,
                    meta,
                    context.metadata,
                    task_id=task_id,
                    on_progress=relay.report,
                    client=context_id or None,
                )
            await relay.flush()
        except A2aRequestError as exc:
            await updater.reject(_agent_message(str(exc)))
            return
        finally:
            await relay.close()
        await self._finish(updater, result, answer)

    async def _finish(
        self, updater: TaskUpdater, result: ActionResult, answer: AnswerChunks
    ) -> None:
        if result.ok:
            parts = [ParseDict(p, Part()) for p in value_to_parts(result.output)]
            await answer.whole(parts)
            await updater.complete()
            return
        if result.state is ActionState.NEEDS_INPUT:
            asked = question_of(result.error)
            text = asked["question"] if asked else result.error.message if result.error else ""
            await updater.requires_input(_agent_message(text, error_metadata(result)))
            return
        text = result.error.message if result.error else str(result.state)
        await updater.failed(_agent_message(text, error_metadata(result)))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """The SDK cancelled ``execute`` (and with it the call); record the task canceled."""
        updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
        await updater.cancel()


def a2a_http_app(
    actions: Any,
    *,
    url: str,
    name: str | None = None,
    token: str | None = None,
    push: A2aPush | None = None,
    url_as_reached: bool = False,
    send_tracebacks: bool = False,
    tracer: Tracer | None = None,
) -> Any:
    """The ASGI app of an A2A agent serving ``actions`` (anything ``ActionRegistry``
    takes), its card naming ``url``; ``name`` defaults to the first action's. With
    ``token``, every request but the card's needs it as a bearer token (module docstring).
    With ``push`` it sends push notifications (the caller closes ``push`` after).
    ``url_as_reached``: the card names the address each client reached it by instead
    (a server bound to every address, ``a2a_card_url``). ``send_tracebacks``: a failed
    task keeps the traceback of what the action raised (``served_errors``). ``tracer``:
    each task is a run in it (``served_trace``), not closed here."""
    from starlette.applications import Starlette

    registry = actions if isinstance(actions, ActionRegistry) else ActionRegistry(actions)
    calls = A2aCalls(registry, send_tracebacks=send_tracebacks, tracer=tracer, protocol="a2a")
    specs = calls.specs()
    card_json = a2a_agent_card(
        name or specs[0].name,
        specs,
        interfaces=[a2a_interface(url, JSONRPC_BINDING, version=A2A_PROTOCOL_VERSION)],
        streaming=True,
        push_notifications=push is not None,
    )
    card = agent_card_proto(declare_bearer(card_json) if token else card_json)
    handler = DefaultRequestHandler(
        agent_executor=WeftAgentExecutor(calls),
        task_store=InMemoryTaskStore(),
        agent_card=card,
        push_config_store=push.store if push else None,
        push_sender=push.relay if push else None,
        push_url_validator=push.policy.check if push else None,
    )
    modifier = as_reached if url_as_reached else None
    card_routes = create_agent_card_routes(card, card_modifier=modifier)
    app: Any = Starlette(routes=[*card_routes, *create_jsonrpc_routes(handler, rpc_url="/")])
    if url_as_reached:
        app = CardAsReached(app)
    if not token:
        return app
    return BearerAuth(app, secret(token), public=[AGENT_CARD_WELL_KNOWN_PATH])


class A2aHttpServer:
    """``actions`` served as an A2A agent at ``http://host:port/`` while the block runs.

    ``port=0`` takes a free port (``url`` says which). The socket is bound
    before the card is written, so the card names the real address. With
    ``token``, requests must carry ``Authorization: Bearer <token>`` (the card
    excepted); ``ValueError`` when it cannot be a bearer token.

    Push notifications are on unless ``push=False``; their webhooks must be
    on public addresses, or, given ``push_allow`` (``HOST[:PORT]`` entries),
    on exactly those hosts (``ValueError`` for an entry of another form).
    ``push`` may also be an ``A2aPush`` of your own (its policy, timeout and
    retries; the server closes it when it stops). ``self.push`` is the one in
    use (``await server.push.idle()`` waits for the notifications queued so
    far); stopping gives queued ones ``push_grace`` seconds.

    ``send_tracebacks``: a failed task's error keeps the traceback of what the
    action raised, for development; else it is logged only (``served_errors``).
    ``tracer``: each task is a run in it (``served_trace``); the server does not close it.
    """

    def __init__(
        self,
        actions: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str | None = None,
        token: str | None = None,
        push: bool | A2aPush = True,
        push_allow: Iterable[str | PushTarget] | None = None,
        push_grace: float = 5.0,
        send_tracebacks: bool = False,
        tracer: Tracer | None = None,
    ) -> None:
        if token is not None:
            check_token(token, "A2aHttpServer(token=...)")
        if isinstance(push, A2aPush):
            if push_allow is not None:
                raise ValueError("give push_allow to the A2aPush you pass as push, not beside it")
            self.push: A2aPush | None = push
        else:
            self.push = A2aPush(PushPolicy(push_allow)) if push else None
        self._push_grace = push_grace
        self._send_tracebacks = send_tracebacks
        self._tracer = tracer
        self._actions = actions
        self._name = name
        self._token = token
        self._sock = listening_socket(host, port)
        bound_host, bound_port = self._sock.getsockname()[:2]
        self.url = http_url(bound_host, bound_port)
        #: Bound to every address: the card names the one each client used (``a2a_card_url``).
        self._as_reached = is_wildcard(bound_host)
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen; returns once requests are served (uvicorn's startup, without its signal
        handlers: whoever runs the server decides what a signal does)."""
        import uvicorn

        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off", access_log=False)
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[self._sock])
        self._server = server
        self._task = asyncio.create_task(server.main_loop(), name=f"a2a-http {self.url}")

    def app(self) -> Any:
        """The ASGI app served (``a2a_http_app``; a test may serve another A2A app)."""
        return a2a_http_app(
            self._actions,
            url=self.url,
            name=self._name,
            token=self._token,
            push=self.push,
            url_as_reached=self._as_reached,
            send_tracebacks=self._send_tracebacks,
            tracer=self._tracer,
        )

    async def serve_forever(self) -> None:
        """Serve until ``stop`` (or uvicorn ends by itself)."""
        if self._task is None:
            await self.start()
        assert self._task is not None
        await asyncio.shield(self._task)

    def request_stop(self) -> None:
        """Ask the server to stop (from a signal handler); ``serve_forever`` then returns."""
        if self._server is not None:
            self._server.should_exit = True

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            await self._server.shutdown(sockets=[self._sock])
            self._task = None
            self._server = None
        self._sock.close()
        if self.push is not None:
            await self.push.aclose(self._push_grace)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
