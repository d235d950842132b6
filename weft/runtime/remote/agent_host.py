"""Hosting actions as an agent on the bus: what ``weft agent serve`` runs.

One ``AgentHost`` is one agent: one bus connection, one agent id, one
retained ``AgentCard`` listing every action it serves (one connection can
carry only one MQTT Will, so one card per connection is what lets the broker
clear the card of a crashed process). It

- subscribes to ``agents/{agent}/call`` and ``agents/{agent}/cancel``, and to
  ``$share/{pool}/weft/{ns}/pools/{pool}/call`` for each pool (by default one
  pool per action, named after it, so replicas pool without configuration);
- re-publishes its card every ``heartbeat_interval`` with its load (the card
  is the heartbeat), and at once after a reconnect, because a restarted
  broker without persistence has forgotten it;
- accepts each call on receipt, queued or not (``CallAccepted`` with its
  place in the queue), and tells each caller every heartbeat which of its
  calls it still holds (``_held_calls``), so a caller never mistakes a long
  queue for a dead agent and never sends a call elsewhere because it waits;
- runs at most ``concurrency`` calls at once; calls past their deadline are
  answered ``timeout`` without starting;
- is idempotent per call: a duplicate of ``(call_id, attempt)`` gets the
  first run's result (or waits for it). A *later* attempt of a call joins an
  earlier attempt still running here, and gets an earlier ``ok`` result, so
  a caller that re-sends because it wrongly believed this agent dead (a
  broker restart fires every Will) never causes a second run. A later
  attempt after a failed one runs again: that is a genuine retry;
- continues the caller's trace (``traceparent``) and, when the caller asks,
  sends the call's progress reports as they happen and returns the spans it
  recorded for the call in the result (``_call_trace``), so they join the
  caller's trace store wherever this process runs;
- sends malformed, oversized or misaddressed messages to the dead-letter
  topic, and answers them with an error when they carry a Response Topic;
- on ``stop()`` (SIGTERM in the CLI) stops taking calls, marks its card
  ``draining``, finishes what it holds, then clears its card. Calls still
  held at the drain timeout are given up and answered ``AgentDraining``
  (``_drain``), a retryable error marked as this host's hand-back on the
  reply (``weft-handed-back: 1``), on which the caller moves them to another
  agent, as if this one had died: a rolling restart loses no run. An
  action's own ``AgentDraining`` error carries no mark and is not moved.

The Will must be configured when the bus is created (``agent_will``), because
MQTT fixes it at connect time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import Any

from pydantic import ValidationError

from weft import __version__
from weft.protocols import (
    Action,
    ActionCall,
    ActionResult,
    ActionState,
    AgentCard,
    AgentLoad,
    AgentStatus,
    BusError,
    CallAccepted,
    CallCancel,
    DeadLetterReason,
    Message,
    MessageProperties,
    Topics,
)
from weft.protocols.remote import (
    ACK_PROPERTY,
    KIND_ACCEPTED,
    KIND_PROPERTY,
    KIND_RESULT,
    card_expiry,
)
from weft.protocols.results import json_result
from weft.runtime.bus.base import Bus, Subscription
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.remote._call_table import DEFAULT_BYTES, DEFAULT_SIZE, CallTable, Entry
from weft.runtime.remote._call_trace import CallTrace
from weft.runtime.remote._drain import HANDED_BACK_PROPERTY, drained_result
from weft.runtime.remote._held_calls import HeldCalls
from weft.runtime.remote._host_card import hosted, served_specs
from weft.runtime.remote._host_context import HostContext, run_traced
from weft.runtime.remote._incoming import parse_call, validation_problems
from weft.runtime.remote._twin_watch import AgentIdTaken, start_twin_watch
from weft.runtime.remote._unsent_replies import UnsentReplies
from weft.runtime.remote.agent_id_check import check_agent_id
from weft.runtime.remote.card_signing import AgentKey, signed_card_json
from weft.runtime.remote.dead_letter import publish_dead_letter
from weft.runtime.support.redaction import register_arguments
from weft.runtime.support.secrets import scrub_result, secret_parameters
from weft.runtime.tracing.spans import Tracer

__all__ = ["AgentHost", "agent_will", "hosted", "new_agent_id"]

log = logging.getLogger(__name__)

_RETRY = 1.0  # at most this many seconds between attempts when a heartbeat failed


def new_agent_id(base: str) -> str:
    """``{base}-{8 hex}``: unique per process, readable in ``weft agents``."""
    clean = "".join(c if c.isalnum() or c in "-_" else "-" for c in base) or "agent"
    return f"{clean[:40]}-{os.urandom(4).hex()}"


def agent_will(topics: Topics, agent_id: str) -> Message:
    """The Will an agent's bus must carry: an empty retained card, so a crash clears it."""
    return Message(topic=topics.card(agent_id), payload=b"", qos=1, retain=True)


class AgentHost:
    """Serves ``actions`` on ``bus`` as agent ``agent_id``; see the module docstring.

    ``actions`` is anything ``ActionRegistry`` accepts (actions, functions,
    a dict of them). ``pool`` puts every action in one named pool (replicas
    started with the same pool share its calls); by default each action is
    pooled under its own name, and ``pooled=False`` turns pools off.
    ``others`` is a registry of further actions (for example a
    ``LiveRegistry``'s remote actions) that hosted actions may call.
    ``dedup_size`` and ``dedup_bytes`` bound the calls it remembers answering, and
    the bytes of their results (``_call_table``): oldest first out.
    ``key`` signs the card (``card_signing``); by default this user's agent
    key (``$WEFT_HOME/keys/agent.key``), created on first use, which callers
    of the same user trust without configuration.
    ``check_id`` refuses to start (``AgentIdInUse``) while another live
    process serves ``agent_id``; by default on when ``agent_id`` is given (a
    generated id is unique). A bus whose client id *is* ``agent_id`` has
    taken the MQTT id at connect already (the broker disconnected the other
    holder, whose Will cleared its card), so the check there may come too
    late: check with another connection first, as ``weft agent serve`` does.
    ``twin_watch``, such a connection kept open, catches what the check
    cannot: a second process that passed it at the same moment. On a newer
    process's card for ``agent_id`` this host stops without a word on the bus
    and ``serve_forever`` (or a ``start`` still subscribing) raises ``AgentIdTaken``.
    """

    def __init__(
        self,
        bus: Bus,
        actions: Any,
        *,
        agent_id: str | None = None,
        pool: str | None = None,
        pooled: bool = True,
        concurrency: int = 8,
        heartbeat_interval: float = 5.0,
        tracer: Tracer | None = None,
        dedup_size: int = DEFAULT_SIZE,
        dedup_bytes: int = DEFAULT_BYTES,
        others: ActionRegistry | None = None,
        key: AgentKey | None = None,
        check_id: bool | None = None,
        twin_watch: Bus | None = None,
    ) -> None:
        self.bus = bus
        self.registry = actions if isinstance(actions, ActionRegistry) else ActionRegistry(actions)
        if not len(self.registry):
            raise ValueError("an agent needs at least one action to serve")
        self.agent_id = agent_id or new_agent_id(self.registry.names()[0])
        self.topics = bus.topics
        self.pools: dict[str, str] = (
            {name: pool or name for name in self.registry.names()} if pooled else {}
        )
        self.concurrency = concurrency
        self.heartbeat_interval = heartbeat_interval
        self.tracer = tracer
        self.others = others
        self.key = key
        self.status = AgentStatus.SERVING
        self.load = AgentLoad(capacity=concurrency)
        self._unsent = UnsentReplies(self.agent_id, self.load)
        self.dead_letters = 0
        self._limit = asyncio.Semaphore(concurrency)
        self._calls = CallTable(dedup_size, dedup_bytes)
        self._held = HeldCalls(bus, self.agent_id, heartbeat_interval, self._queued)
        self._handlers: set[asyncio.Task[None]] = set()
        self._subs: list[Subscription] = []
        self._readers: list[asyncio.Task[None]] = []
        self._heartbeat: asyncio.Task[None] | None = None
        self._seq = 0
        self._started_at = time.time()
        #: Drawn once per host: a caller tells this process from an earlier or later one
        #: under the same agent id by it, never by comparing clocks (``AgentCard``).
        self.incarnation = os.urandom(8).hex()
        self.check_id = agent_id is not None if check_id is None else check_id
        #: A fixed id may be started twice by mistake: watch its card topic, over a bus
        #: with another client id (this one's is taken in turns), for a newer process.
        self._twin_bus = twin_watch
        self.replaced_by: AgentCard | None = None
        """The card of the newer process this host yielded its id to (then it stopped)."""
        self._stop_requested = asyncio.Event()
        self._starting: asyncio.Task[Any] | None = None  # the task in ``start``, meanwhile
        self._stopped = False
        #: Set at the drain timeout: the calls cancelled from then on are given up, not
        #: cancelled by their caller, and answered so that the caller moves them.
        self._gave_up_after: float | None = None

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, then announce: a caller that sees the card can call at once.

        With ``check_id`` (by default when ``agent_id`` was given) it first
        makes sure no live process serves the id (``agent_id_check``):
        ``AgentIdInUse`` if one does, before anything is subscribed.
        """
        if self.check_id:
            await check_agent_id(self.bus, self.agent_id)
        if self._twin_bus is not None:  # first: a twin fighting over the id may hold us up below
            twins, watch = await start_twin_watch(
                self._twin_bus, self.agent_id, self._started_at, self.incarnation, self._yield_id,
                announced=lambda: self._seq > 0,  # set as the first card is handed to the bus
            )  # fmt: skip
            self._subs.append(twins)
            self._readers.append(watch)
        self._starting = asyncio.current_task()
        try:
            await self._subscribe_and_announce()
        except asyncio.CancelledError:  # by ``_yield_id``, unless someone else cancelled too
            if self.replaced_by is None or not self._starting or self._starting.uncancel():
                raise
            await self._abandon()
            raise AgentIdTaken(self.agent_id, self.replaced_by, os.getpid()) from None
        finally:
            self._starting = None
        log.info("agent %s serving %s", self.agent_id, ", ".join(self.registry.names()))

    async def _subscribe_and_announce(self) -> None:
        patterns = [self.topics.agent_call(self.agent_id), self.topics.agent_cancel(self.agent_id)]
        patterns += [
            self.topics.shared_pool_subscription(p) for p in sorted(set(self.pools.values()))
        ]
        for pattern in patterns:
            sub = await self.bus.subscribe(pattern, qos=1)
            self._subs.append(sub)
            self._readers.append(
                asyncio.create_task(self._read(sub), name=f"weft-agent-{self.agent_id}-{pattern}")
            )
        reconnects = self.bus.reconnects  # a reconnect from here on re-publishes the card
        await self.publish_card()
        self._heartbeat = asyncio.create_task(
            self._beat(reconnects), name=f"weft-agent-{self.agent_id}-heartbeat"
        )
        self._held.start()

    def request_stop(self) -> None:
        """Ask ``serve_forever`` to drain and return (safe from a signal handler)."""
        self._stop_requested.set()

    async def serve_forever(self, drain_timeout: float = 30.0) -> None:
        """Serve until ``request_stop()``, then drain like ``stop()``.

        Raises ``AgentIdTaken`` when it stopped because a newer process took its id.
        """
        await self._stop_requested.wait()
        await self.stop(drain_timeout)
        if self.replaced_by is not None:
            raise AgentIdTaken(self.agent_id, self.replaced_by, os.getpid())

    def _yield_id(self, card: AgentCard) -> None:
        """A newer process serves this id: stop at once, publishing nothing more (a start
        still subscribing, held up by the fight over the id, ends with ``AgentIdTaken``)."""
        self.replaced_by = card
        self._stop_requested.set()
        if self._starting is not None:
            self._starting.cancel()

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Stop taking calls, finish those held for ``drain_timeout`` s, clear the card.

        Messages already delivered to this process are still served; new ones
        go to the other replicas of each pool. Calls still held (running or
        queued) at ``drain_timeout`` are stopped and answered with a retryable
        ``AgentDraining`` error, on which their callers re-send them to
        another agent serving the action (``_drain``), never ``cancelled``:
        the caller did not cancel them, and a restart must not end its run.
        """
        if self._stopped:
            return
        self._stopped = True
        if self.replaced_by is not None:
            await self._abandon()
            return
        self.status = AgentStatus.DRAINING
        for sub in self._subs:
            await sub.close()  # readers still dispatch what was queued before the close
        await asyncio.gather(*self._readers, return_exceptions=True)
        with contextlib.suppress(BusError):
            await self.publish_card()
        handlers = [t for t in self._handlers if not t.done()]
        if handlers:
            _done, pending = await asyncio.wait(handlers, timeout=drain_timeout)
            if pending:
                log.warning(
                    "agent %s: giving up the calls still held at the drain timeout (%gs); "
                    "their callers re-send them to other agents",
                    self.agent_id,
                    drain_timeout,
                )
                self._gave_up_after = drain_timeout
                for entry in self._calls.values():
                    if entry.task is not None and entry.running():
                        entry.task.cancel()  # its callers are answered 'AgentDraining'
                _done, pending = await asyncio.wait(pending, timeout=5.0)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self._held.stop()
        try:
            await self.bus.publish(self.topics.card(self.agent_id), b"", qos=1, retain=True)
        except BusError as exc:
            log.warning("agent %s could not clear its card: %s", self.agent_id, exc)
        log.info("agent %s stopped", self.agent_id)

    async def _abandon(self) -> None:
        """Stop without a word on the bus: the id, and its card topic, are another's now.

        No drain: every publish would take the connection back from the newer
        process. The callers of the calls held here move them on seeing the
        newer process's card (a new incarnation), as for a restart.
        """
        tasks = [*self._readers, *self._handlers, self._heartbeat]
        for task in tasks:
            if task is not None:
                task.cancel()
        for sub in self._subs:
            await sub.close()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        await self._held.stop()
        log.info("agent %s stopped (its id is served by a newer process)", self.agent_id)

    async def __aenter__(self) -> AgentHost:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- presence -------------------------------------------------------------------

    def card(self) -> AgentCard:
        """The card as it would be published now (``seq`` of the latest publication)."""
        return AgentCard(
            agent_id=self.agent_id,
            status=self.status,
            actions=served_specs(self.registry, self.pools, self.topics, self.agent_id),
            pools=dict(self.pools),
            topic=self.topics.agent_call(self.agent_id),
            load=self.load.model_copy(),
            heartbeat_interval=self.heartbeat_interval,
            seq=self._seq,
            started_at=self._started_at,
            incarnation=self.incarnation,
            host=socket.gethostname(),
            pid=os.getpid(),
            weft_version=__version__,
            expiry=card_expiry(self.heartbeat_interval),
        )

    async def publish_card(self) -> None:
        """Publish the card, retained, with the next ``seq`` and the current load.

        With the Message Expiry the card names, which the broker counts down:
        a receiver learns a retained card's age from it (``card_age``).
        """
        if self.key is None:  # file I/O, once: off the loop
            self.key = await asyncio.to_thread(AgentKey.load_or_create)
        self._seq += 1
        card = self.card()
        await self.bus.publish(
            self.topics.card(self.agent_id),
            signed_card_json(card, self.key),
            qos=1,
            retain=True,
            properties=MessageProperties(message_expiry=card.expiry),
        )

    async def _beat(self, seen: int) -> None:
        """Re-publish the card every interval, and right after the bus reconnected.

        ``seen`` is the bus's ``reconnects`` when the card was last published.
        """
        wait = self.heartbeat_interval
        while True:
            await self._until_due(seen, wait)
            seen = self.bus.reconnects  # read before publishing: a reconnect meanwhile counts
            try:
                await self.publish_card()
                wait = self.heartbeat_interval
            except BusError as exc:
                log.debug("agent %s heartbeat failed: %s", self.agent_id, exc)
                wait = min(_RETRY, self.heartbeat_interval)

    async def _until_due(self, reconnects: int, wait: float) -> None:
        """Return after ``wait`` seconds, or once ``bus.reconnects`` moved past ``reconnects``."""
        loop = asyncio.get_running_loop()
        due = loop.time() + wait
        while self.bus.reconnects == reconnects and loop.time() < due:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(due - loop.time()):
                    await self.bus.connection_changed()

    # -- serving --------------------------------------------------------------------

    async def _read(self, sub: Subscription) -> None:
        cancel_topic = self.topics.agent_cancel(self.agent_id)
        async for message in sub:
            handler = self._cancel if message.topic == cancel_topic else self._serve
            task = asyncio.create_task(self._guarded(handler, message))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _guarded(self, handler: Any, message: Message) -> None:
        """Run one message handler; nothing a message contains may escape it."""
        try:
            await handler(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not stop the agent
            log.exception("agent %s failed on a message on %s", self.agent_id, message.topic)
            await self._reject(message, DeadLetterReason.INVALID_MESSAGE, f"internal error: {exc}")

    async def _reject(
        self,
        message: Message,
        reason: DeadLetterReason,
        detail: str,
        call_id: str = "",
        error_type: str = "InvalidCall",
    ) -> None:
        self.dead_letters += 1
        await publish_dead_letter(self.bus, message, reason, detail, self.agent_id)
        if message.properties.response_topic:
            result = ActionResult.failure(call_id, error_type, f"agent {self.agent_id}: {detail}")
            result.agent = self.agent_id
            await self._answer(message, result)

    async def _serve(self, message: Message) -> None:
        call, call_id, reason, detail = parse_call(message, self.bus)
        if call is None:
            await self._reject(message, reason, detail, call_id)
            return
        if call.action not in self.registry:
            await self._reject(
                message,
                DeadLetterReason.UNKNOWN_ACTION,
                f"does not serve action '{call.action}' (it serves "
                f"{', '.join(self.registry.names())})",
                call.call_id,
                "UnknownAction",
            )
            return
        entry = self._calls.entry_for(call, lambda c, e: self._execute(c, message, e))
        # Accepted on receipt, queued or not: from here on the caller waits for this agent
        # (it is told which calls are still held here every heartbeat, if it asked).
        reported = self._held.hold(message, call)
        try:
            if message.properties.user_properties.get(ACK_PROPERTY) == "1":
                # The run starts while the ack is on its way; the result goes out after it.
                ack = CallAccepted(
                    call_id=call.call_id,
                    attempt=call.attempt,
                    agent_id=self.agent_id,
                    position=0 if entry.future.done() else self._queued(),
                    held_interval=self.heartbeat_interval if reported else None,
                )
                await self._answer(message, ack, kind=KIND_ACCEPTED)
            result = await asyncio.shield(entry.future)
            await self._answer(message, result, handed_back=entry.handed_back)
        finally:
            self._held.release(message)

    def _queued(self) -> int:
        """Calls received and waiting for a free slot (the newest one's queue position)."""
        return max(0, self._calls.active - self.concurrency)

    async def _execute(self, call: ActionCall, message: Message, entry: Entry) -> None:
        result: ActionResult | None = None
        # Secrets among the arguments are registered before the call runs, and masked
        # in what goes back (an echo of them, or of the host's own): docs/security.md.
        spec = self.registry.get(call.action).spec
        register_arguments(call.arguments, secret_parameters(spec.input_schema))
        trace = CallTrace.for_message(self.bus, message)
        try:
            result = await self._run_limited(call, message, trace)
        except asyncio.CancelledError:
            if self._gave_up_after is not None:  # stopped by the drain, not by its caller
                result = drained_result(call.call_id, self.agent_id, self._gave_up_after)
                entry.handed_back = True  # only this answer carries weft-handed-back
            else:
                result = ActionResult.failure(
                    call.call_id,
                    "Cancelled",
                    f"agent {self.agent_id}: the call was cancelled",
                    state=ActionState.CANCELLED,
                )
        finally:
            if result is None:  # pragma: no cover - _run_limited never raises otherwise
                result = ActionResult.failure(call.call_id, "AgentError", "no result")
            # Results are JSON (weft.protocols.results), as in-process: same value or error.
            result = scrub_result(json_result(result, spec.name))
            if trace is not None:  # the spans go back with the result that goes back
                result = trace.attach(result, self.bus.max_payload)
            result.agent = self.agent_id
            self.load.served += 1
            if not result.ok:
                self.load.failed += 1
            if not entry.future.done():
                entry.future.set_result(result)

    async def _run_limited(
        self, call: ActionCall, message: Message, trace: CallTrace | None
    ) -> ActionResult:
        self.load.queued += 1
        try:
            await self._limit.acquire()
        finally:
            self.load.queued -= 1
        try:
            if call.deadline is not None and call.deadline <= time.time():
                late = time.time() - call.deadline
                return ActionResult.failure(
                    call.call_id,
                    "Timeout",
                    f"agent {self.agent_id}: call to '{call.action}' expired {late:.1f}s "
                    "before it could start",
                    state=ActionState.TIMEOUT,
                    retryable=True,
                )
            self.load.in_flight += 1
            try:
                action: Action = self.registry.get(call.action)
                ctx = HostContext(self, call, message.properties, trace)
                result = await run_traced(self, action, call, ctx)
                if trace is not None:
                    await trace.flush()  # the caller sees the progress before the result
                return result
            finally:
                self.load.in_flight -= 1
        finally:
            self._limit.release()

    async def _cancel(self, message: Message) -> None:
        refused = self.bus.refuse(message.payload)
        if refused is not None:
            await self._reject(message, *refused)
            return
        try:
            cancel = CallCancel.model_validate_json(message.payload)
        except ValidationError as exc:
            why = f"not a CallCancel: {validation_problems(exc)}"
            await self._reject(message, DeadLetterReason.INVALID_MESSAGE, why)
            return
        entry = self._calls.get(cancel.call_id)
        if entry is not None and entry.task is not None and entry.running():
            log.info("agent %s cancels call %s: %s", self.agent_id, cancel.call_id, cancel.reason)
            entry.task.cancel()

    async def _answer(
        self, request: Message, payload: Any, kind: str = KIND_RESULT, handed_back: bool = False
    ) -> None:
        """Reply to ``request``; ``handed_back`` marks this host's own hand-back (``_drain``)."""
        user = {KIND_PROPERTY: kind}
        if handed_back:
            user[HANDED_BACK_PROPERTY] = "1"
        try:
            await self.bus.reply(
                request,
                payload.model_dump_json(),
                properties=MessageProperties(user_properties=user),
            )
        except BusError as exc:  # the caller re-sends; the result stays cached
            self._unsent.failed(request.topic, exc)
            return
        if self._unsent.streak:
            self._unsent.replied()
