"""``RemoteAction``: an action served by an agent in another process, called over the bus.

To the executor it is an action like any other. Behind ``invoke``, a call
runs once when nothing fails, and survives what a distributed system does to
it without help from the executor's retry policy:

- **One holder.** With a directory (a ``LiveRegistry``) the call goes to one
  agent serving the action, chosen here (``_placement``: fresh agents first,
  then the fewest calls outstanding there). That agent holds the call from
  the first send; every re-send of the attempt goes to it, and an agent runs
  an attempt once. Without a directory it goes to the ``pool`` (or
  ``agent``) given, and the holder is whoever acknowledges it.
- **Busy is not gone.** The agent acknowledges on receipt, queued or not
  (``CallAccepted`` with its place in the queue, asked by ``weft-ack: 1``),
  and lists the call in a ``CallsHeld`` report every heartbeat while it holds
  it (``weft-held: 1``). However long its queue, the call stays there.
- **The holder dies** (its card cleared by its Will) while this client's
  connection stayed up: the call is sent as ``attempt + 1`` to another agent.
  Only calls that agent held can run twice: what it did before dying is done.
- **The holder is stopped** (SIGTERM) and gives the call up at its drain
  timeout: it answers ``AgentDraining``, marked on the reply as its own
  hand-back (``_drain``), and the call is sent as ``attempt + 1`` to another
  agent, as for a death. A rolling restart of a pool's replicas moves their
  calls instead of ending the runs. An action's own ``AgentDraining`` error
  is its answer, returned like any other.
- **The holder restarts under the same id** (a fixed ``--agent-id``): the
  new process, told apart by its card's incarnation (``_call_state``),
  never had the call, so it is sent as ``attempt + 1`` to a live agent,
  which may be that new process. Only the incarnations that lost the call
  are avoided, and only while another agent serves the action.
- **The holder was taken for lost, but lives** (its Will fired when its
  connection dropped and it reconnected more than ``gone_grace`` later; or
  a twin's card stood on its topic between two of its heartbeats): when no
  other agent serves the action, the call goes back to it once its card is
  fresh again. It runs each call once, a later attempt joining the one it
  still runs: this costs an attempt, not a run (not a timeout either).
- **No agent serves the action** (the last replica was stopped): the call
  waits for one until its deadline, and says so in the log, once per
  action per outage (``waiting for a replica of 'X'``).
- **The holder falls silent** (no card, report or reply for the liveness
  bound, 3 of its heartbeats by default: a frozen process, a cut network)
  while another fresh agent serves the action: once this client has read its
  own inbox (a ping through the broker), the call moves as ``attempt + 1``,
  the silent agent is told to cancel it, and anything it sends for the call
  later is ignored. A frozen agent that thaws may still run what it held:
  besides death, the one case where a call runs twice.
- **The broker restarts** (every Will fires, every connection drops): told
  apart from a death because this client lost its connection too. The call
  is re-sent with the *same* ``(call_id, attempt)`` to the same agent once it
  is back, which answers from its idempotency table or joins the run.
- **No ack** (the message was lost): re-sent, same attempt, to the same
  agent, after ``ack_timeout`` and then less and less often. Without a
  directory that is the pool again, where a second replica may take it: the
  one path on which a busy pool can run a call twice (give it a directory).
- **Held but no longer listed, and no result** (the result was lost): asked
  again, same attempt, and answered from the agent's idempotency table.
- **The broker refuses the call** (PUBACK 0x87, its ACL): a ``PublishRefused``
  error at once, not retryable, naming the topic, not a timeout at the deadline.
- At the deadline (``call.deadline``, else ``default_timeout``) it returns a
  ``timeout`` result whose message says what happened, slightly before the
  executor's own timeout would cut it off without explanation.

What happens elsewhere shows here (``_remote_trace``): the agent's progress
reaches the context as it is made (``weft-progress: 1``), the spans the agent
recorded come back with the result (``weft-spans: 1``) and join the caller's
trace under the call's span, every abandoned attempt is a span naming the
agent that vanished, and the result says which agent answered (``agent``) and
how many attempts it took (``attempts``).

Why not the executor's retry policy: these are transport failures, invisible
to the workflow author, and only this layer sees the signals (acks, reports,
Wills, reconnects) that say whether re-sending is safe. Actions get
``ctx.idempotency_key``, the same on every attempt, to make their own
external effects idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from weft.agents.streaming import text_stream_wanted
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    ActionState,
    BusError,
    MessageProperties,
    PublishRefusedError,
    ServedResult,
)
from weft.protocols.human_input import question_of
from weft.protocols.remote import (
    ACK_PROPERTY,
    HELD_PROPERTY,
    PROGRESS_PROPERTY,
    SPANS_PROPERTY,
    TRACEPARENT,
)
from weft.protocols.streaming import STREAM_PROPERTY
from weft.runtime.bus.base import Bus
from weft.runtime.remote._call_state import CallState, attempts, timed_out, waiting_note
from weft.runtime.remote._placement import Placement
from weft.runtime.remote._remote_cancel import cancel_keeping_spans, publish_cancel
from weft.runtime.remote._remote_trace import (
    LostAttempt,
    forward_progress,
    record_lost,
    record_served,
    wants_spans,
)
from weft.runtime.remote.call_client import HANDED_BACK, UNREADABLE, CallClient, Waiter
from weft.runtime.remote.directory import AgentDirectory
from weft.runtime.tracing.spans import traceparent

log = logging.getLogger(__name__)

#: Left out of a call on the wire when unset (the agent derives the same key), so the
#: payload of most calls stays what it was before the field existed.
_NO_KEY = {"idempotency_key"}


class RemoteAction:
    """Calls ``spec.name`` on remote agents; see the module docstring for the guarantees.

    With a ``registry`` (an ``AgentDirectory``, such as a started
    ``LiveRegistry``) it sends each call to one live agent and follows
    deaths, silences and returns. Without one, it sends to ``pool`` (or
    ``agent``) and relies on acks and deadlines. ``liveness`` is the silence
    bound in seconds (default: 3 heartbeats of the holder, at least 1 s).
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
        liveness: float | None = None,
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
        #: Who serves the action and where a send goes: read from ``registry`` (``_placement``).
        self.placement = Placement(spec.name, registry, pool=pool, agent=agent, liveness=liveness)
        self.default_timeout = default_timeout
        self.ack_timeout = ack_timeout
        self.gone_grace = gone_grace
        self.liveness = liveness
        #: Calls re-sent per lost agent: one warning per agent, not one per call (an
        #: agent killed while holding a foreach's thousands of calls wrote a line each).
        self._resent_from: dict[tuple[str, str | None], int] = {}
        #: A call waits for an agent and the log said so: not again until one is sent.
        self._waiting_noted = False

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    def __repr__(self) -> str:
        return f"<RemoteAction {self.name}>"

    async def invoke(self, call: ActionCall, ctx: ActionContext | None = None) -> ActionResult:
        deadline = (
            call.deadline if call.deadline is not None else time.time() + self.default_timeout
        )
        # Taken before the first call subscribes to its replies (a broker round trip):
        # the budget the deadline gave, not what a loaded machine left of it.
        budget = max(deadline - time.time(), 0.0)
        await self.client.start()
        give_up = deadline - min(0.5, budget * 0.1)
        state = CallState(
            call=call.model_copy(update={"deadline": deadline}),
            deadline=deadline,
            attempt=call.attempt,
            resend_gap=self.ack_timeout,
        )
        if ctx is not None and callable(getattr(ctx, "progress", None)):
            state.asks[PROGRESS_PROPERTY] = "1"
            if text_stream_wanted():  # its LLM agents stream their text to us
                state.asks[STREAM_PROPERTY] = "1"
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
                    timed_out.attempts = attempts(state)
                    return timed_out
                timers = (
                    give_up,
                    state.resend_at,
                    state.check_at,
                    state.restart_until,
                    state.gone_at and state.gone_at + self.gone_grace,
                )
                event = await waiter.next(min(t for t in timers if t) - now)
                if event is None:
                    await self._on_timer(state, waiter)
                    continue
                kind, value = event
                if kind == HANDED_BACK:  # its agent was stopped: the call moves on
                    if self._stale_hand_back(state, value.agent or state.holder):
                        continue
                    await self._given_up(state, waiter, value.agent or state.holder)
                elif kind == "result":
                    return self._answered(state, value, ctx)
                elif kind == UNREADABLE:  # the agent answered, but not with an ActionResult
                    record_lost(ctx, state.call, state.abandoned)
                    who = f"agent '{state.holder}'" if state.holder else "the agent"
                    why = f"{who} sent a result weft cannot read: {value}"
                    why = f"remote action '{self.name}': {why}"
                    failed = ActionResult.failure(call.call_id, "AgentError", why)
                    failed.agent = state.holder
                    return failed
                if kind == "progress":
                    forward_progress(ctx, value)
                elif kind == "accepted":
                    self._accepted(state, value.agent_id, value.held_interval is not None)
                elif kind == "held":
                    self._accepted(state, value, True)
                elif kind == "reconnected" and state.returning is None:
                    await self._send(state, waiter, to_holder=state.holder is not None)
                elif kind == "agent":
                    await self._on_agent(state, waiter, *value)
        except PublishRefusedError as exc:  # not retryable: the same send is refused again
            record_lost(ctx, state.call, state.abandoned)
            why = f"remote action '{self.name}': {exc}"
            return ActionResult.failure(call.call_id, "PublishRefused", why)
        except asyncio.CancelledError:
            handed_over = True
            # Closes the waiter; first waits (briefly) for the agent's spans of the call.
            await cancel_keeping_spans(self.bus, self.name, state, waiter, self.ack_timeout, ctx)
            raise
        finally:
            self._set_holder(state, None)
            if unlisten is not None:
                unlisten()
            if not handed_over:
                waiter.close()

    def _answered(
        self, state: CallState, result: ServedResult, ctx: ActionContext | None
    ) -> ActionResult:
        """The result to return, its server's spans and the abandoned attempts recorded."""
        record_lost(ctx, state.call, state.abandoned)
        sent = state.attempt_sent_at or state.sent_at or time.time()
        record_served(ctx, state.call, result.spans, sent, time.time())
        if result.spans_dropped:
            log.debug("%s: the agent left %d spans out", self.name, result.spans_dropped)
        plain = result.plain()
        plain.attempts = attempts(state)
        if plain.agent is None:  # a server that does not name itself: the one holding the call
            plain.agent = state.holder
        who = f"agent '{plain.agent}'" if plain.agent else "the agent"
        if plain.state is not ActionState.OK and plain.error is None:
            why = f"{who} answered '{plain.state.value}' without an error"
        elif plain.state is ActionState.NEEDS_INPUT and question_of(plain.error) is None:
            why = f"{who} answered 'needs_input' without error.details.question (docs/protocol.md)"
        else:
            return plain
        failed = ActionResult.failure(
            plain.call_id, "AgentError", f"remote action '{self.name}': {why}", usage=plain.usage
        )
        failed.agent, failed.attempts = plain.agent, plain.attempts
        return failed

    # -- who holds the call -----------------------------------------------------------

    def _set_holder(self, state: CallState, agent: str | None) -> None:
        """Make ``agent`` the holder of the current attempt (None: nobody), counted per agent."""
        if state.holder is not None:
            self.client.release(state.holder)
        state.holder, state.accepted, state.reports = agent, False, False
        if agent is not None:
            state.incarnation = self.placement.incarnation(agent)
            self.client.hold(agent)
            state.holder_since = time.time()
            state.check_at = state.holder_since + self.placement.liveness(agent) / 2
        else:
            state.check_at = None

    def _accepted(self, state: CallState, agent: str, reports: bool) -> None:
        if state.holder is None and state.returning is None:
            self._set_holder(state, agent)  # sent to a pool: the holder is who took it
        elif agent != state.holder:
            return  # a second replica of a pool took a re-send: the first one keeps it
        state.accepted, state.resend_at, state.waiting = True, None, False
        state.reports = state.reports or reports

    # -- reacting -----------------------------------------------------------------

    async def _on_agent(self, state: CallState, waiter: Waiter, change: str, agent: str) -> None:
        if change == "gone":
            if agent == state.holder:
                state.gone_at = time.time()  # decided after gone_grace: death or broker restart?
        elif agent in (state.holder, state.returning) and self.placement.restarted(state, agent):
            state.gone_at = state.restart_until = state.returning = None
            # No cancel: it would reach the new process, which may take the new attempt.
            why = f"agent '{agent}' restarted (a new process under its id) while holding the call"
            await self._fail_over(state, waiter, agent, why)
        elif self.placement.serves(agent):  # appeared, or restarted
            if agent in (state.holder, state.returning):
                await self._holder_back(state, waiter, agent)
            elif state.waiting:
                await self._send(state, waiter)  # nobody served it until now

    async def _holder_back(self, state: CallState, waiter: Waiter, agent: str) -> None:
        """The holder is back after a broker restart: ask it again, same attempt."""
        log.info("%s: asking %s again for call %s", self.name, agent, state.call.call_id)
        state.returning = None
        state.gone_at = state.restart_until = None
        if state.holder != agent:
            self._set_holder(state, agent)
        state.accepted = False  # the restart may have lost the call: wait for its ack again
        await self._send(state, waiter, to_holder=True)

    async def _on_timer(self, state: CallState, waiter: Waiter) -> None:
        now = time.time()
        if state.gone_at is not None and now >= state.gone_at + self.gone_grace:
            await self._holder_gone(state, waiter)
        elif state.restart_until is not None and now >= state.restart_until:
            holder, state.returning, state.restart_until = state.returning, None, None
            holder = holder or "?"
            await self._fail_over(
                state,
                waiter,
                holder,
                f"agent '{holder}' did not come back after the broker connection was lost",
            )
        else:
            if state.resend_at is not None and now >= state.resend_at:
                # Never acknowledged: the same attempt, to the same agent, less and less often.
                state.resend_gap = min(2 * state.resend_gap, max(self.ack_timeout, 30.0))
                await self._send(state, waiter, to_holder=state.holder is not None)
            if state.check_at is not None and now >= state.check_at:
                await self._check_holder(state, waiter)

    async def _holder_gone(self, state: CallState, waiter: Waiter) -> None:
        """The holder's card was cleared ``gone_grace`` ago: a death, or a broker restart?"""
        gone_at, state.gone_at = state.gone_at or time.time(), None
        holder = state.holder
        if holder is None:
            return
        if self.client.troubled_since(gone_at - self.gone_grace):
            # Every Will fires when a broker shuts down; only the holder may run
            # the call now (another replica would run it twice): wait for it.
            if self.placement.serves(holder):
                await self._holder_back(state, waiter, holder)
            else:
                self._set_holder(state, None)
                state.returning = holder
                state.restart_until = time.time() + self.placement.restart_grace()
                log.info("%s: broker restart suspected; waiting for %s", self.name, holder)
            return
        await self._fail_over(
            state,
            waiter,
            holder,
            f"agent '{holder}' vanished (its card was cleared) while holding the call",
        )

    async def _check_holder(self, state: CallState, waiter: Waiter) -> None:
        """Is the holder alive, and does it still have the call? Runs every half bound."""
        holder = state.holder
        if holder is None or state.gone_at is not None:
            state.check_at = None
            return
        bound = self.placement.liveness(holder)
        now = time.time()
        state.check_at = now + bound / 2
        silence = now - self.placement.last_sign(state, holder, self.client.heard)
        if silence > bound and self.placement.elsewhere(state, holder):
            try:  # replies this client has not read yet may be signs of life
                await self.client.flush(now)
            except (TimeoutError, BusError):
                return  # the broker does not answer us: nothing can be judged now
            silence = time.time() - self.placement.last_sign(state, holder, self.client.heard)
            if waiter.pending() or holder != state.holder or silence <= bound:
                return
            moved = "the call moved to another agent"
            publish_cancel(self.bus, self.name, holder, state.call.call_id, moved)
            await self._fail_over(
                state,
                waiter,
                holder,
                f"agent '{holder}' fell silent (no heartbeat, report or reply for "
                f"{silence:.3g}s) while holding the call",
            )
        elif state.accepted and state.reports and now - waiter.heard_at > bound:
            # Alive, but no longer lists the call and no result came: it was lost on its
            # way. The same attempt again: the agent answers from its idempotency table.
            waiter.heard_at = now
            await self._send(state, waiter, to_holder=True)

    async def _fail_over(self, state: CallState, waiter: Waiter, lost: str, why: str) -> None:
        left = state.leave(lost)
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
        count = self._resent_from.get(left, 0) + 1
        self._resent_from[left] = count
        log.log(
            logging.WARNING if count == 1 else logging.DEBUG,
            "%s: call %s: %s; re-sending as attempt %d%s",
            self.name,
            state.call.call_id,
            why,
            state.attempt + 1,
            " (its other calls are re-sent too, logged at debug level)" if count == 1 else "",
        )
        waiter.forget()  # whatever the old holder still sends is ignored
        waiter.heard_at = now
        self._set_holder(state, None)
        state.attempt += 1
        state.resend_gap = self.ack_timeout
        await self._send(state, waiter)

    @staticmethod
    def _stale_hand_back(state: CallState, agent: str | None) -> bool:
        """True if a hand-back is about an attempt the call already moved away from.

        An agent that held a call unacknowledged got it more than once (the
        same attempt re-sent after the ack timeout) and, when stopped, answers
        every copy. The first hand-back moves the call; the others may already
        be queued here, past ``Waiter.forget``. Only the current holder's
        hand-back moves the current attempt: the others would move it again,
        and the agent that now holds it would run it a second time.
        """
        if agent is None:
            return False
        return agent in state.drained or (state.holder is not None and agent != state.holder)

    async def _given_up(self, state: CallState, waiter: Waiter, agent: str | None) -> None:
        """The agent holding the call was stopped and gave it up: move it, as for a death.

        Whatever else was pending about that agent (its card cleared a moment
        earlier, a suspected broker restart) is settled by its own answer.
        """
        agent = agent or state.returning or "?"
        state.gone_at = state.restart_until = state.returning = None
        state.drained.append(agent)
        await self._fail_over(
            state,
            waiter,
            agent,
            f"agent '{agent}' was stopped and gave the call up at its drain timeout",
        )

    # -- sending --------------------------------------------------------------------

    async def _send(self, state: CallState, waiter: Waiter, *, to_holder: bool = False) -> None:
        now = time.time()
        target = self.placement.target(
            state, self.bus.topics, self.client.outstanding, to_holder=to_holder
        )
        if target is None:
            if not state.waiting and not self._waiting_noted:
                self._waiting_noted = True
                log.warning(waiting_note(state, self.name, self.bus.topics.namespace))
            state.waiting = True
            state.resend_at = None
            return
        if state.waiting:
            self._waiting_noted = False  # an agent is back: the next wait is news again
        topic, agent = target
        if agent is not None and agent != state.holder:
            self._set_holder(state, agent)
        call = state.call.model_copy(update={"attempt": state.attempt})
        user = {ACK_PROPERTY: "1", HELD_PROPERTY: "1", **state.asks}
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
        if not state.accepted:
            state.resend_at = now + state.resend_gap
        try:
            payload = call.model_dump_json(
                exclude=_NO_KEY if call.idempotency_key is None else None
            )
            await self.bus.publish(topic, payload, qos=1, properties=properties)
        except PublishRefusedError:
            raise  # invoke fails the call: sending again changes nothing
        except BusError as exc:
            log.warning("%s: sending call %s failed: %s", self.name, call.call_id, exc)
            state.resend_at = time.time() + min(self.ack_timeout, 1.0)

    # -- giving up --------------------------------------------------------------------

    def _timed_out(self, state: CallState, budget: float) -> ActionResult:
        namespace = self.bus.topics.namespace
        return timed_out(state, self.name, namespace, budget, self.default_timeout)
