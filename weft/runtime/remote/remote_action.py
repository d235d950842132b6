"""``RemoteAction``: an action served by an agent in another process, called over the bus.

To the executor it is an action like any other. Behind ``invoke``, one call
survives what a distributed system does to it, without help from the
executor's retry policy:

- The call is sent QoS 1 with Response Topic, Correlation Data, a
  ``traceparent`` user property, Message Expiry from its deadline, and
  ``weft-ack: 1``, so the agent that takes it says so (``CallAccepted``).
- **The agent holding it dies** (its card is cleared by its Will): the call
  is sent again with ``attempt + 1`` to another replica of the pool, or to
  the next agent serving the action; with none alive, it waits for one until
  the deadline.
- **The broker restarts** (every Will fires, every connection drops): this is
  told apart from a death because this client lost its connection too. The
  call is re-sent with the *same* ``(call_id, attempt)`` once the holder is
  back, and the agent answers from its idempotency table or joins the run in
  progress, so the work is not done twice.
- **No ack** (the message was lost: nobody subscribed yet, broker restart):
  re-sent with the same attempt after ``ack_timeout``, or as soon as an
  agent for the action (re)appears.
- At the deadline (``call.deadline``, else ``default_timeout``) it returns a
  ``timeout`` result whose message says what happened (which agent vanished,
  whether anything serves the action), slightly before the executor's own
  timeout would cut it off without explanation.

What happens elsewhere shows here (``_remote_trace``): the agent's progress
reports reach the context as they are made (``weft-progress: 1``), the
spans the agent recorded come back with the result (``weft-spans: 1``) and
join the caller's trace under the call's span, every abandoned attempt is a
span naming the agent that vanished, and the result says which agent
answered (``agent``) and how many attempts it took (``attempts``).

Why not the executor's retry policy: these are transport failures, invisible
to the workflow author, and only this layer sees the signals (acks, Wills,
reconnects) that say whether re-sending is safe. The workflow's retry
policy stays what its author wrote, for failures of the action itself.

Effects are at-least-once across replicas: an agent that finished a call and
died before its reply left has done the work, and the re-sent call does it
again elsewhere. Within one agent, ``(call_id, attempt)`` runs once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    ActionState,
    BusError,
    CallCancel,
    MessageProperties,
    ServedResult,
)
from weft.protocols.remote import ACK_PROPERTY, PROGRESS_PROPERTY, SPANS_PROPERTY, TRACEPARENT
from weft.runtime.bus.base import Bus
from weft.runtime.remote._remote_trace import (
    LostAttempt,
    forward_progress,
    record_lost,
    record_served,
    wants_spans,
)
from weft.runtime.remote.call_client import CallClient, Waiter
from weft.runtime.remote.directory import AgentDirectory
from weft.runtime.tracing.spans import traceparent

log = logging.getLogger(__name__)

_background: set[asyncio.Task[Any]] = set()


@dataclass
class _Call:
    """Where one remote call stands."""

    call: ActionCall
    deadline: float
    attempt: int
    holder: str | None = None
    sent_at: float | None = None
    sends: int = 0
    waiting: bool = False
    ack_check_at: float | None = None
    gone_at: float | None = None
    returning: str | None = None
    restart_until: float | None = None
    lost: list[str] = field(default_factory=list)
    #: Attempts abandoned because their agent vanished, for the trace.
    abandoned: list[LostAttempt] = field(default_factory=list)
    #: When the current attempt was first sent.
    attempt_sent_at: float | None = None
    #: User properties every send carries besides the ack request and trace context.
    asks: dict[str, str] = field(default_factory=dict)


class RemoteAction:
    """Calls ``spec.name`` on remote agents; see the module docstring for the guarantees.

    With a ``registry`` (an ``AgentDirectory``, such as a started
    ``LiveRegistry``) it picks a live agent (its pool when it has one) and
    follows deaths and returns. Without one, it sends to ``pool`` (or
    ``agent``) and relies on acks and deadlines.
    """

    def __init__(
        self,
        bus: Bus | CallClient,
        spec: ActionSpec,
        *,
        registry: AgentDirectory | None = None,
        pool: str | None = None,
        agent: str | None = None,
        default_timeout: float = 300.0,
        ack_timeout: float = 5.0,
        gone_grace: float = 1.0,
    ) -> None:
        self.client = bus if isinstance(bus, CallClient) else CallClient.for_bus(bus)
        self.bus = self.client.bus
        self.name = spec.name
        card = spec.card.model_copy(update={"max_concurrency": None}) if spec.card else None
        # The executor limits per-action concurrency by card.max_concurrency; a pool
        # of replicas has more capacity than one agent's card says.
        self._spec = spec.model_copy(update={"kind": ActionKind.REMOTE, "card": card})
        self.registry = registry
        self.pool = pool
        self.agent = agent
        if registry is None and pool is None and agent is None:
            raise ValueError("RemoteAction needs a registry, a pool or an agent to send to")
        self.default_timeout = default_timeout
        self.ack_timeout = ack_timeout
        self.gone_grace = gone_grace

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    def __repr__(self) -> str:
        return f"<RemoteAction {self.name}>"

    async def invoke(self, call: ActionCall, ctx: ActionContext | None = None) -> ActionResult:
        await self.client.start()
        deadline = (
            call.deadline if call.deadline is not None else time.time() + self.default_timeout
        )
        budget = max(deadline - time.time(), 0.0)
        give_up = deadline - min(0.5, budget * 0.1)
        state = _Call(
            call=call.model_copy(update={"deadline": deadline}),
            deadline=deadline,
            attempt=call.attempt,
        )
        if ctx is not None and callable(getattr(ctx, "progress", None)):
            state.asks[PROGRESS_PROPERTY] = "1"
        if wants_spans(ctx):
            state.asks[SPANS_PROPERTY] = "1"
        waiter = self.client.open()

        def on_change(change: str, agent: str) -> None:
            if change != "updated":  # heartbeats say nothing this call acts on
                waiter.push(("agent", (change, agent)))

        unlisten = self.registry.listen(on_change) if self.registry is not None else None
        handed_over = False
        try:
            await self._send(state, waiter)
            while True:
                now = time.time()
                if now >= give_up:
                    record_lost(ctx, state.call, state.abandoned)
                    timed_out = self._timed_out(state, budget)
                    timed_out.attempts = _attempts(state)
                    return timed_out
                wake = min(
                    t
                    for t in (
                        give_up,
                        state.ack_check_at,
                        state.restart_until,
                        state.gone_at and state.gone_at + self.gone_grace,
                    )
                    if t
                )
                event = await waiter.next(wake - now)
                if event is None:
                    await self._on_timer(state, waiter)
                    continue
                kind, value = event
                if kind == "result":
                    return self._answered(state, value, ctx)
                if kind == "progress":
                    forward_progress(ctx, value)
                elif kind == "accepted":
                    state.holder, state.ack_check_at, state.waiting = value.agent_id, None, False
                elif kind == "reconnected" and state.returning is None:
                    await self._send(state, waiter, to_holder=state.holder is not None)
                elif kind == "agent":
                    await self._on_agent(state, waiter, *value)
        except asyncio.CancelledError:
            handed_over = True
            self._cancel_remote(state, waiter)  # closes the waiter when done
            raise
        finally:
            if unlisten is not None:
                unlisten()
            if not handed_over:
                waiter.close()

    def _answered(
        self, state: _Call, result: ServedResult, ctx: ActionContext | None
    ) -> ActionResult:
        """The result to return, its server's spans and the abandoned attempts recorded."""
        record_lost(ctx, state.call, state.abandoned)
        sent = state.attempt_sent_at or state.sent_at or time.time()
        record_served(ctx, state.call, result.spans, sent, time.time())
        if result.spans_dropped:
            log.debug("%s: the agent left %d spans out", self.name, result.spans_dropped)
        plain = result.plain()
        plain.attempts = _attempts(state)
        return plain

    # -- reacting -----------------------------------------------------------------

    async def _on_agent(self, state: _Call, waiter: Waiter, change: str, agent: str) -> None:
        now = time.time()
        if change == "gone":
            if agent == state.holder:
                state.gone_at = now  # decided after gone_grace: death or broker restart?
            elif state.holder is None and state.sent_at is not None:
                # It may have been the one that got our call: check for an ack soon.
                state.ack_check_at = min(state.ack_check_at or math.inf, now + self.gone_grace)
        elif change == "appeared" and self._serves(agent):
            if agent in (state.holder, state.returning):
                await self._holder_back(state, waiter, agent)
            elif state.holder is None and state.returning is None:
                await self._send(state, waiter)  # not accepted yet, or nobody served it

    async def _holder_back(self, state: _Call, waiter: Waiter, agent: str) -> None:
        """The holder is back after a broker restart: ask it again, same attempt."""
        log.info("%s: asking %s again for call %s", self.name, agent, state.call.call_id)
        state.holder, state.returning = agent, None
        state.gone_at = state.restart_until = None
        await self._send(state, waiter, to_holder=True)

    async def _on_timer(self, state: _Call, waiter: Waiter) -> None:
        now = time.time()
        if state.gone_at is not None and now >= state.gone_at + self.gone_grace:
            gone_at, state.gone_at = state.gone_at, None
            holder, state.holder = state.holder, None
            assert holder is not None
            if self.client.troubled_since(gone_at - self.gone_grace):
                # Every Will fires when a broker shuts down; only the holder may run
                # the call now (another replica would run it twice): wait for it.
                if self._serves(holder):
                    await self._holder_back(state, waiter, holder)
                else:
                    state.returning = holder
                    state.restart_until = now + self._restart_grace()
                    log.info("%s: broker restart suspected; waiting for %s", self.name, holder)
                return
            await self._fail_over(
                state,
                waiter,
                holder,
                f"agent '{holder}' vanished (its card was cleared) while holding the call",
            )
        elif state.restart_until is not None and now >= state.restart_until:
            holder, state.returning, state.restart_until = state.returning, None, None
            holder = holder or "?"
            await self._fail_over(
                state,
                waiter,
                holder,
                f"agent '{holder}' did not come back after the broker connection was lost",
            )
        elif state.ack_check_at is not None and now >= state.ack_check_at:
            await self._send(state, waiter, to_holder=state.holder is not None)

    async def _fail_over(self, state: _Call, waiter: Waiter, lost: str, why: str) -> None:
        state.lost.append(lost)
        now = time.time()
        state.abandoned.append(
            LostAttempt(
                attempt=state.attempt,
                agent=lost,
                start=state.attempt_sent_at or now,
                end=now,
                reason=f"{why}; re-sent as attempt {state.attempt + 1}",
            )
        )
        state.attempt_sent_at = None
        log.warning(
            "%s: agent %s vanished during call %s; re-sending as attempt %d",
            self.name,
            lost,
            state.call.call_id,
            state.attempt + 1,
        )
        state.attempt += 1
        await self._send(state, waiter)

    def _restart_grace(self) -> float:
        interval = 5.0
        if self.registry is not None:
            intervals = [a.card.heartbeat_interval for a in self.registry.agents()]
            interval = max(intervals, default=interval)
        return 3 * interval + 10.0

    # -- sending --------------------------------------------------------------------

    def _serves(self, agent: str) -> bool:
        if self.registry is None:
            return False
        info = self.registry.get(agent)  # an untrusted card serves nothing (trust.py)
        return info is not None and info.card.serves(self.name) and info.trust.allows(self.name)

    def _topic(self, state: _Call, to_holder: bool) -> str | None:
        topics = self.bus.topics
        if to_holder and state.holder is not None:
            return topics.agent_call(state.holder)
        if self.registry is None:
            return topics.pool_call(self.pool) if self.pool else topics.agent_call(str(self.agent))
        candidates = [a for a in self.registry.serving(self.name) if a.agent_id not in state.lost]
        if not candidates:
            return None
        best = min(candidates, key=lambda a: (not a.fresh(), a.card.load.ratio))
        pool = best.card.pools.get(self.name)
        # The broker hands a pool call to any replica, a frozen one too: while a fresh
        # agent serves the action, a pool with a stale replica is gone round.
        replicas = [a for a in candidates if pool and a.card.pools.get(self.name) == pool]
        if pool and (not best.fresh() or all(a.fresh() for a in replicas)):
            return topics.pool_call(pool)
        return topics.agent_call(best.agent_id)

    async def _send(self, state: _Call, waiter: Waiter, *, to_holder: bool = False) -> None:
        now = time.time()
        topic = self._topic(state, to_holder)
        if topic is None:
            state.waiting = True
            state.ack_check_at = None
            return
        call = state.call.model_copy(update={"attempt": state.attempt})
        user = {ACK_PROPERTY: "1", **state.asks}
        if call.trace_id:
            user[TRACEPARENT] = traceparent(call.trace_id, call.call_id)
        properties = MessageProperties(
            response_topic=self.client.reply_topic,
            correlation_data=self.client.correlate(waiter),
            user_properties=user,
            message_expiry=max(1, math.ceil(state.deadline - now)),
        )
        state.sent_at, state.waiting = now, False
        if state.attempt_sent_at is None:
            state.attempt_sent_at = now
        state.sends += 1
        state.ack_check_at = now + self.ack_timeout
        try:
            await self.bus.publish(topic, call.model_dump_json(), qos=1, properties=properties)
        except BusError as exc:
            log.warning("%s: sending call %s failed: %s", self.name, call.call_id, exc)
            state.ack_check_at = time.time() + min(self.ack_timeout, 1.0)

    def _cancel_remote(self, state: _Call, waiter: Waiter) -> None:
        """Tell the holder to stop, in the background because the caller is cancelled.

        If no agent has acknowledged the call yet, wait up to ``ack_timeout``
        for the ack that may be on its way, so a call cancelled right after it
        was sent is still stopped where it runs.
        """
        if state.sent_at is None:
            waiter.close()
            return

        async def cancel() -> None:
            try:
                holder = state.holder
                async with asyncio.timeout(self.ack_timeout):
                    while holder is None:
                        event = await waiter.next(self.ack_timeout)
                        if event is None or event[0] == "result":
                            return  # never taken, or already done
                        if event[0] == "accepted":
                            holder = event[1].agent_id
                    payload = CallCancel(call_id=state.call.call_id).model_dump_json()
                    await self.bus.publish(self.bus.topics.agent_cancel(holder), payload, qos=1)
            except (BusError, TimeoutError) as exc:
                log.debug("%s: cancelling call %s failed: %s", self.name, state.call.call_id, exc)
            finally:
                waiter.close()

        task = asyncio.get_running_loop().create_task(cancel())
        _background.add(task)
        task.add_done_callback(_background.discard)

    # -- giving up --------------------------------------------------------------------

    def _timed_out(self, state: _Call, budget: float) -> ActionResult:
        name = self.name
        if state.lost and state.holder is None:
            vanished = ", ".join(f"'{a}'" for a in dict.fromkeys(state.lost))
            why = (
                f"agent {vanished} vanished while serving the call and no other live agent "
                f"serves '{name}'; start one (weft agent serve ...) and resume the run"
            )
        elif state.returning is not None:
            why = (
                f"agent '{state.returning}' lost its broker connection while serving the call "
                "and did not come back"
            )
        elif state.holder is not None:
            why = f"agent '{state.holder}' accepted the call but sent no result in time"
        elif state.sends == 0:
            why = (
                f"no live agent serves '{name}' in namespace '{self.bus.topics.namespace}'; "
                "start one with: weft agent serve MODULE:OBJECT --broker URL"
            )
        else:
            why = "no agent accepted the call"
        return ActionResult.failure(
            state.call.call_id,
            "RemoteTimeout",
            f"remote action '{name}': no result before the call deadline ({budget:.3g}s): {why}",
            state=ActionState.TIMEOUT,
            retryable=True,
        )


def _attempts(state: _Call) -> int | None:
    """Attempts this call made (``ActionResult.attempts``): None for just one."""
    made = state.attempt - state.call.attempt + 1
    return made if made > 1 else None
