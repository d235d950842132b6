"""The live registry: which agents are up, what they serve, how loaded they are.

It subscribes to the retained cards (``weft/{ns}/cards/+``). An agent re-publishes
its card every heartbeat interval with its load, and its Will clears the card
when it dies, so the registry needs no polling: a card appears, is refreshed,
or is cleared. An agent whose card is older than 1.5 of its heartbeat
intervals is *stale*: still listed, still reachable as a last resort, but not
preferred and not counted as alive. A card's age comes from the card and the
broker, not from when it arrived (``weft.protocols.remote.card_age``): the
broker hands a new subscriber every retained card at once, however old.

Every card is judged against the caller's trust list (``trust``, by default
``TrustPolicy.load()``: this user's own agent keys, plus ``$WEFT_TRUST`` or
``trust.yaml``): an agent is listed whatever its card says, but calls, action
names, specs, capability cards and loads come only from agents trusted for
the action (``weft.runtime.remote.trust``). An untrusted card is never
called, so an agent the broker admits cannot draw calls meant for another by
claiming its action. A card is judged when its agent's trust is first
asked for (``AgentInfo.trust``), not when it arrives: the signature check
is most of what a card costs, and a caller among ten thousand agents asks
about the few it calls.

Built for thousands of agents: cards are read at QoS 0 (a broker drops the
retained cards past its queue of unacknowledged messages at QoS 1), an
index by action keeps ``serving`` independent of how many agents there
are, a heartbeat keeps the objects of the actions it did not change, and
the cyclic garbage collector waits while the retained cards pour in
(``weft.workflows.gc_pause``).

A card that is not an ``AgentCard`` is dead-lettered and changes nothing
else: the reader never waits on the dead letter, so the cards behind it are
read as if it were not there.

``actions()`` turns what is served into an ``ActionRegistry`` of
``RemoteAction``s, so the executor and the orchestrator call remote agents
exactly like local actions. ``load`` and ``alive`` feed routers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import orjson
from pydantic import ValidationError

from weft.protocols import (
    ActionSpec,
    AgentCard,
    CapabilityCard,
    DeadLetterReason,
    Message,
    WeftError,
)
from weft.protocols.remote import card_age
from weft.runtime.bus.base import Bus, Subscription
from weft.runtime.remote._incarnations import Incarnations
from weft.runtime.remote.call_client import CallClient
from weft.runtime.remote.card_signing import CardSignature, verify_card_data
from weft.runtime.remote.card_verifier import AheadVerifier, SignatureCache, verify_payloads
from weft.runtime.remote.dead_letter import publish_dead_letter
from weft.runtime.remote.directory import AgentInfo, Listener, Trust
from weft.runtime.remote.remote_action import RemoteAction
from weft.runtime.remote.trust import TrustPolicy
from weft.runtime.support.tasks import cancel_and_wait
from weft.workflows.gc_pause import gc_paused

if TYPE_CHECKING:  # imported when used: the engine costs `weft agents` 0.1-0.2 s of start-up
    from weft.runtime.engine.registry import ActionRegistry

log = logging.getLogger(__name__)

#: Seconds at least between two checks of a ``wait_until`` predicate.
RECHECK = 0.02

#: Logged once per agent whenever its verdict changes to (partly) untrusted.
UNTRUSTED_WARNING = "agent %s is not trusted, and is not called: %s"


class LiveRegistry:
    """Agents on one bus namespace, kept current from their retained cards.

    It is the ``AgentDirectory`` (``weft.runtime.remote.directory``) that the
    ``RemoteAction``s it makes follow.

    Use ``async with LiveRegistry(bus) as registry:``; once entered, every
    card retained on the broker has been seen. Listeners run synchronously
    in the registry's reader task and must not block.

    ``trust`` is a ``TrustPolicy``, or the path of a trust list; by default
    ``TrustPolicy.load()``, read when the registry starts (a bad file raises
    ``DefinitionError`` there). ``signature_cache`` (``weft agents`` passes
    one) remembers which card payloads verified, across processes;
    ``verify_ahead`` checks signatures on another core as cards arrive, for
    a caller that will ask every agent's trust (``judge_all``).
    """

    def __init__(
        self,
        bus: Bus,
        *,
        default_timeout: float = 300.0,
        ack_timeout: float = 5.0,
        gone_grace: float = 1.0,
        trust: TrustPolicy | str | os.PathLike[str] | None = None,
        signature_cache: SignatureCache | None = None,
        verify_ahead: bool = False,
    ) -> None:
        self.bus = bus
        self._trust_source = trust
        self.trust: TrustPolicy | None = trust if isinstance(trust, TrustPolicy) else None
        self.signature_cache = signature_cache
        self._ahead = AheadVerifier() if verify_ahead else None
        self._owns_client = not CallClient.exists(bus)
        self.client = CallClient.for_bus(bus)
        self.default_timeout = default_timeout
        self.ack_timeout = ack_timeout
        self.gone_grace = gone_grace
        self._agents: dict[str, AgentInfo] = {}
        self._by_action: dict[str, set[str]] = {}  # action -> ids of the agents whose card lists it
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self._remote: dict[str, RemoteAction] = {}
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dead_letters: asyncio.Queue[tuple[Message, str]] = asyncio.Queue()
        self._incarnations = Incarnations()
        self.invalid_cards = 0

    # -- lifecycle ----------------------------------------------------------------

    async def start(self, sync_timeout: float = 10.0) -> None:
        """Subscribe to the cards and return once every retained one has been read.

        The ping's marker comes back after the retained cards (one connection,
        in order), so they are all queued by then; whatever the reader has
        not taken yet is read here, before returning.
        """
        if self._sub is not None:
            return
        if self.trust is None:
            source = self._trust_source
            path = None if isinstance(source, TrustPolicy) else source
            self.trust = await asyncio.to_thread(TrustPolicy.load, path)
        await self.client.start()
        # QoS 0: a card is re-published every heartbeat and the session is clean, so an
        # acknowledgement per card buys nothing, and at QoS 1 the broker keeps at most
        # max_queued_messages (weft's config: 10,000) unacknowledged ones per subscriber
        # and drops the rest of a larger retained set.
        self._sub = sub = await self.bus.subscribe(self.bus.topics.all_cards(), qos=0)
        self._tasks = [
            asyncio.create_task(self._read(sub), name="weft-live-registry"),
            asyncio.create_task(self._send_dead_letters(), name="weft-live-registry-dead-letters"),
        ]
        # Cards are long-lived acyclic data: full collections while ten thousand arrive cost
        # more than reading them (2.9 s of 6.4 s measured, bench/topologies.py).
        with gc_paused():
            try:
                await self.client.ping(sync_timeout)
            except TimeoutError:
                await self.close()
                raise WeftError(
                    f"the broker did not hand over the agents' cards (namespace "
                    f"'{self.bus.topics.namespace}') within {sync_timeout:g}s: is it overloaded?"
                ) from None
            while True:
                try:
                    message = await sub.get(timeout=0)
                except TimeoutError:
                    break
                self._apply(message)

    async def close(self) -> None:
        if self._tasks:  # let the dead letters already found go out, briefly
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._dead_letters.join()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
        if self._owns_client:
            await self.client.close()
        if self._ahead is not None:
            self._ahead.close()

    async def __aenter__(self) -> LiveRegistry:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- what is known ---------------------------------------------------------------

    def agents(self) -> list[AgentInfo]:
        return sorted(self._agents.values(), key=lambda a: a.agent_id)

    def get(self, agent_id: str) -> AgentInfo | None:
        return self._agents.get(agent_id)

    def serving(self, action: str) -> list[AgentInfo]:
        """Agents that take calls for ``action`` now (fresh or stale, not draining), trusted
        to serve it: the only ones its ``RemoteAction`` sends calls to.

        Read from an index by action, so a call costs the same among ten
        thousand agents as among ten; only these agents' trust is judged.
        """
        return [a for a in self._claiming(action) if a.serving and a.trust.allows(action)]

    def untrusted(self, action: str) -> list[AgentInfo]:
        """Agents whose card claims ``action`` but who are not trusted to serve it."""
        return [a for a in self._claiming(action) if not a.trust.allows(action)]

    def _claiming(self, action: str) -> list[AgentInfo]:
        """Agents whose card lists ``action``, by id."""
        return [self._agents[agent_id] for agent_id in sorted(self._by_action.get(action, ()))]

    def action_names(self) -> list[str]:
        """Actions that at least one trusted agent serves."""
        return sorted(
            {
                s.name
                for a in self._agents.values()
                if a.serving
                for s in a.card.actions
                if a.trust.allows(s.name)
            }
        )

    def spec(self, action: str) -> ActionSpec | None:
        """The spec of ``action`` as its most recently started agent describes it."""
        agents = sorted(self.serving(action), key=lambda a: a.card.started_at)
        return agents[-1].card.spec(action) if agents else None

    def alive(self) -> set[str]:
        """Ids of agents that take calls and refreshed their card recently."""
        now = time.time()
        return {a.agent_id for a in self._agents.values() if a.serving and a.fresh(now)}

    def load(self, agent_id: str) -> float:
        """Occupied share of an agent's capacity (``inf`` when unknown), for routers."""
        info = self._agents.get(agent_id)
        return info.card.load.ratio if info is not None else float("inf")

    def capability_cards(self) -> list[CapabilityCard]:
        """One capability card per served action (pools count once), for routing indexes."""
        cards: dict[str, CapabilityCard] = {}
        for info in self.agents():
            for spec in info.card.actions:
                if spec.card is not None and info.serving and info.trust.allows(spec.name):
                    cards.setdefault(spec.card.agent_id, spec.card)
        return list(cards.values())

    def card_load(self, card_agent_id: str) -> float:
        """The lowest load among the agents behind a capability card's ``agent_id``."""
        loads = [
            info.card.load.ratio
            for info in self._agents.values()
            if info.serving
            and any(
                s.card is not None
                and s.card.agent_id == card_agent_id
                and info.trust.allows(s.name)
                for s in info.card.actions
            )
        ]
        return min(loads, default=float("inf"))

    def router_sources(self) -> tuple[Callable[[str], bool], Callable[[str], float]]:
        """``(alive, load)`` for ``CapabilityRouter(index, alive=..., load=...)``.

        Both take a capability card's ``agent_id`` (a pool, by default the
        action's name) and read the registry at call time, so the router
        always sees current presence; load is clamped to 0..1.
        """

        def alive(card_agent_id: str) -> bool:
            return card_agent_id in self.alive_cards()

        def load(card_agent_id: str) -> float:
            return min(self.card_load(card_agent_id), 1.0)

        return alive, load

    def alive_cards(self) -> set[str]:
        """``agent_id``s of capability cards that at least one alive agent serves."""
        alive = self.alive()
        return {
            spec.card.agent_id
            for info in self._agents.values()
            if info.agent_id in alive
            for spec in info.card.actions
            if spec.card is not None and info.trust.allows(spec.name)
        }

    # -- waiting and listening -----------------------------------------------------------

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change, agent_id)`` on every change; returns the unsubscribe."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds, re-checked after changes; False on timeout.

        Re-checked at most every ``RECHECK`` seconds: while thousands of agents
        come up, a card arrives every few microseconds, and a predicate that
        looks at every agent, re-run per card, would make the wait quadratic.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            checked = loop.time()
            remaining = end - checked
            if remaining <= 0:
                return False
            event = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 1.0)):  # staleness changes silently
                    await event.wait()
                    await asyncio.sleep(max(0.0, checked + RECHECK - loop.time()))
        return True

    async def wait_for(self, names: Iterable[str], timeout: float) -> None:
        """Wait until every action in ``names`` has a serving agent.

        Raises ``WeftError`` naming the actions nobody serves after ``timeout`` s.
        """
        wanted = sorted(set(names))

        def missing() -> list[str]:
            return [n for n in wanted if not self.serving(n)]

        if await self.wait_until(lambda: not missing(), timeout):
            return
        gone = missing()
        message = (
            f"no agent serves {', '.join(repr(n) for n in gone)} on namespace "
            f"'{self.bus.topics.namespace}' after waiting {timeout:g}s; start one with "
            "'weft agent serve MODULE:OBJECT --broker URL' (weft agents lists who is there)"
        )
        untrusted = {a.agent_id: a.trust.note for n in gone for a in self.untrusted(n)}
        if untrusted:
            refused = "; ".join(f"'{agent}': {note}" for agent, note in sorted(untrusted.items()))
            hint = self.trust.hint() if self.trust is not None else ""
            message += f". Untrusted agents claim it, and are never called ({refused}); {hint}"
        raise WeftError(message)

    # -- as actions ------------------------------------------------------------------------

    def remote(self, action: str) -> RemoteAction:
        """The ``RemoteAction`` for ``action`` (one per name, reused)."""
        existing = self._remote.get(action)
        if existing is not None:
            return existing
        spec = self.spec(action)
        if spec is None:
            raise WeftError(f"no agent serves '{action}' (weft agents lists who is there)")
        remote = RemoteAction(
            self.client,
            spec,
            registry=self,
            default_timeout=self.default_timeout,
            ack_timeout=self.ack_timeout,
            gone_grace=self.gone_grace,
        )
        self._remote[action] = remote
        return remote

    def actions(self, names: Iterable[str] | None = None) -> ActionRegistry:
        """An ``ActionRegistry`` of remote actions: ``names``, or every served action."""
        from weft.runtime.engine.registry import ActionRegistry

        chosen = self.action_names() if names is None else names
        return ActionRegistry({name: self.remote(name) for name in chosen})

    # -- reading cards ---------------------------------------------------------------------

    async def _read(self, sub: Subscription) -> None:
        """Apply cards as they come; never waits on anything but the next card."""
        async for message in sub:
            self._apply(message)

    def _apply(self, message: Message) -> None:
        try:
            problem = self._on_card(message)
        except Exception as exc:  # never let one card stop the registry
            log.exception("registry failed on %s", message.topic)
            problem = f"internal error: {exc}"
        if problem is not None:
            self.invalid_cards += 1
            self._dead_letters.put_nowait((message, problem))

    async def _send_dead_letters(self) -> None:
        """Publish dead letters apart from the reader, which a slow publish must not hold up."""
        while True:
            message, problem = await self._dead_letters.get()
            try:
                await publish_dead_letter(
                    self.bus, message, DeadLetterReason.INVALID_CARD, problem, self.bus.client_id
                )
            except Exception:  # a dead letter is best effort; the next one may go out
                log.exception("registry could not send a dead letter for %s", message.topic)
            finally:
                self._dead_letters.task_done()

    def _on_card(self, message: Message) -> str | None:
        """Apply one card message; returns what is wrong with it, if anything.

        The card is taken in without its signature being checked: that is an
        Ed25519 verification, most of the cost of a card, done when the
        agent's trust is first asked for (``AgentInfo.trust``).
        """
        agent_id = message.topic.rsplit("/", 1)[-1]
        payload = message.payload
        if not payload:
            gone = self._agents.pop(agent_id, None)
            if gone is not None:
                self._index(agent_id, gone.card, None)
                self._incarnations.cleared(agent_id, gone.card)
                self._notify("gone", agent_id)
            return None
        refused = self.bus.refuse(payload)  # too large or too deep to decode
        if refused is not None:
            return f"card refused: {refused[1]}"
        try:
            card = AgentCard.model_validate_json(payload)
        except ValidationError as exc:
            return _card_problem(exc)
        if card.agent_id != agent_id:
            return f"card of '{card.agent_id}' published on the topic of '{agent_id}'"
        now = time.time()
        known = self._agents.get(agent_id)
        if self._incarnations.outdated(agent_id, known.card if known else None, card):
            return None
        age = card_age(
            card,
            now,
            replayed=message.retain,
            remaining_expiry=message.properties.message_expiry,
        )
        if known is not None and card.actions == known.card.actions:
            # A heartbeat: the same actions with a new load. Keeping the objects already
            # held lets the new ones die young instead of growing the collector's old heap.
            card.actions = known.card.actions
        self._index(agent_id, known.card if known is not None else None, card)
        before = known.verdict if known is not None and known.judged else None
        cache = self.signature_cache
        if self._ahead is not None and not (cache is not None and cache.verified(payload)):
            self._ahead.add(payload)
        self._agents[agent_id] = AgentInfo(
            card,
            known.first_seen if known else now,
            now - age,
            self._judge_later(card, payload, before),
        )
        if known is None:
            self._notify("appeared", agent_id)
        else:  # the same id from another process (a fixed --agent-id) is a restart
            restart = card.incarnation_key != known.card.incarnation_key
            self._notify("restarted" if restart else "updated", agent_id)
        return None

    def _index(self, agent_id: str, old: AgentCard | None, new: AgentCard | None) -> None:
        """Move ``agent_id`` in the by-action index from ``old``'s actions to ``new``'s."""
        before = {s.name for s in old.actions} if old is not None else set()
        after = {s.name for s in new.actions} if new is not None else set()
        for name in before - after:
            ids = self._by_action.get(name)
            if ids is not None:
                ids.discard(agent_id)
                if not ids:
                    del self._by_action[name]
        for name in after - before:
            self._by_action.setdefault(name, set()).add(agent_id)

    def _judge_later(
        self, card: AgentCard, payload: bytes, before: Trust | Callable[[], Trust] | None
    ) -> _Judgement:
        """The judgement of ``card`` (sent as ``payload``, a few kB, smaller than the parsed
        object), run when first asked for. ``before`` is the agent's previous verdict, if
        reached: the warning is logged when the verdict changes."""
        return _Judgement(self, card, payload, before)

    def _verdict(self, card: AgentCard, signature: CardSignature, before: object | None) -> Trust:
        """The caller's verdict on a card with its checked signature; warns when it changed."""
        if self.trust is None:  # started without start(): the default list
            self.trust = TrustPolicy.load()
        trust = self.trust.judge(card, signature)
        if trust.allowed is not None and trust != before:
            log.warning(UNTRUSTED_WARNING, card.agent_id, trust.note)
        return trust

    def _signature(self, card: AgentCard, payload: bytes) -> CardSignature:
        """``payload``'s checked signature: from the cache if it verified before."""
        cache = self.signature_cache
        if cache is not None and cache.verified(payload):
            return CardSignature(card.public_key)
        signature = verify_card_data(orjson.loads(payload))
        if cache is not None and signature.signer is not None:
            cache.add(payload)
        return signature

    def judge_all(self) -> None:
        """Reach every agent's trust verdict now (``weft agents`` shows them all).

        The signatures not in the cache are checked together, on every core
        when there are many (``verify_payloads``); the cache is saved after.
        """
        cache = self.signature_cache
        pending: list[tuple[AgentInfo, _Judgement]] = []
        for info in self._agents.values():
            verdict = info.verdict
            if isinstance(verdict, _Judgement):
                if cache is not None and cache.verified(verdict.payload):
                    info.verdict = verdict.finish(CardSignature(verdict.card.public_key))
                else:
                    pending.append((info, verdict))
        payloads = [judgement.payload for _, judgement in pending]
        ahead, self._ahead = self._ahead, None  # cards after this are judged when asked
        if ahead is None:
            signatures = verify_payloads(payloads)
        else:
            with ahead:
                signatures = ahead.finish(payloads)
        for (info, judgement), signature in zip(pending, signatures, strict=True):
            if cache is not None and signature.signer is not None:
                cache.add(judgement.payload)
            info.verdict = judgement.finish(signature)
        for info in self._agents.values():
            _ = info.trust  # any other kind of pending verdict
        if cache is not None:
            cache.save()

    def _notify(self, change: str, agent_id: str) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()
        for listener in list(self._listeners):
            try:
                listener(change, agent_id)
            except Exception:
                log.exception("registry listener failed")


class _Judgement:
    """A card's trust verdict not reached yet: its payload, and how to reach the verdict."""

    __slots__ = ("before", "card", "payload", "registry")

    def __init__(
        self, registry: LiveRegistry, card: AgentCard, payload: bytes, before: object | None
    ) -> None:
        self.registry = registry
        self.card = card
        self.payload = payload
        self.before = before

    def __call__(self) -> Trust:
        return self.finish(self.registry._signature(self.card, self.payload))

    def finish(self, signature: CardSignature) -> Trust:
        """The verdict, given the payload's checked ``signature``."""
        return self.registry._verdict(self.card, signature, self.before)


def _card_problem(exc: ValidationError) -> str:
    """What the dead letter says about a payload that is not an ``AgentCard``."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return f"not an AgentCard: not JSON: {first['msg']}"
    return f"not an AgentCard: {exc.error_count()} problem(s): {first['msg']}"
