"""Refusing to serve an agent id that a live process already serves.

Two processes started with the same fixed id (``weft agent serve --agent-id``)
would fight over it: the id is also the MQTT client id, so the broker
disconnects one whenever the other connects, for ever, and each connect fires
the other's Will, clearing its card. That is a mistake, refused at start with
``AgentIdInUse``, before the id is taken. A *restart* under the same id must
keep working, so only a live holder refuses it. What the card on
``cards/{agent}`` says decides:

- no card, an empty one (cleared by the holder when it stopped, or by its
  Will when it died), or not an ``AgentCard``: the id is free;
- a card older than ``stale_after`` (1.5 of its heartbeats): its process is
  hung, frozen or cut off (its Will has not fired yet): the id is taken
  over, as a supervisor replacing a hung process expects;
- a card published while we listen (delivered live, not replayed from the
  retained store) with status ``serving``: a live process serves the id:
  ``AgentIdInUse`` naming its host, pid and start;
- a retained card still fresh: its process may have died a moment ago or be
  alive; we wait for its next heartbeat until the card would turn stale.
  A heartbeat proves it alive; silence means it is gone or hung;
- a live card with status ``draining``: the holder is being stopped right
  now (SIGTERM) and clears its card once its calls are finished or handed
  back. The new process waits for that, saying so once, instead of refusing:
  ``kill PID; weft agent serve --agent-id X`` is a rolling restart, and
  taking the id at once would cut the old process off in the middle of its
  drain. A drain ends by itself (its drain timeout); a draining process that
  stops heartbeating turns stale and is taken over.

The check must run on a connection that does not hold the id itself
(``weft agent serve`` opens a short one with a random client id): a bus that
connected *as* the agent id has already taken it from the live process,
whose Will then cleared the card this check reads. Two processes checking at
the same moment may both find the id free; the broker then disconnects one
of them each time the other connects. Kept open and given to ``AgentHost``
as ``twin_watch``, that connection settles it: the older process yields
(``_twin_watch``).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from weft.protocols import AgentCard, AgentStatus, Message, WeftError
from weft.protocols.remote import card_age
from weft.runtime.bus.base import Bus
from weft.runtime.remote.call_client import CallClient

__all__ = ["AgentIdInUse", "card_in", "check_agent_id", "process_of"]

log = logging.getLogger(__name__)


class AgentIdInUse(WeftError):
    """Another live process serves this agent id on this namespace: stop it or pick another."""

    def __init__(self, agent_id: str, card: AgentCard) -> None:
        super().__init__(
            f"agent id '{agent_id}' is already served by a live process "
            f"({process_of(card)}); stop it first or pick another --agent-id"
        )
        self.agent_id = agent_id
        self.card = card


async def check_agent_id(bus: Bus, agent_id: str, *, sync_timeout: float = 10.0) -> None:
    """Return once ``agent_id`` is free to serve on ``bus``'s namespace; see the module.

    Raises ``AgentIdInUse`` when a live process serves it, ``WeftError`` when
    the broker does not hand over the retained card within ``sync_timeout``,
    ``BusError`` when the bus fails. Returns at once when there is no card;
    waits at most 1.5 heartbeats of the card found (longer only while a
    draining holder keeps beating).
    """
    owns_client = not CallClient.exists(bus)
    client = CallClient.for_bus(bus)
    sub = await bus.subscribe(bus.topics.card(agent_id), qos=1)
    try:
        await client.start()
        try:
            await client.ping(sync_timeout)  # the retained card, if any, comes before it
        except TimeoutError:
            raise WeftError(
                f"the broker did not hand over the card of agent '{agent_id}' within "
                f"{sync_timeout:g}s: is it overloaded?"
            ) from None
        latest: Message | None = None
        while True:
            try:
                latest = await sub.get(timeout=0)
            except TimeoutError:
                break
        if latest is not None:
            await _until_free(agent_id, latest, sub.get)
    finally:
        await sub.close()
        if owns_client:
            await client.close()


async def _until_free(
    agent_id: str, message: Message, next_card: Callable[[float], Awaitable[Message]]
) -> None:
    """Follow the card on the id's topic until the id is free, or raise ``AgentIdInUse``."""
    said_draining = False
    while True:
        card = card_in(message)
        if card is None:
            return  # cleared (stopped, died) or no weft card
        age = card_age(
            card,
            time.time(),
            replayed=message.retain,
            remaining_expiry=message.properties.message_expiry,
        )
        live = not message.retain  # published while we listen: its process is alive
        if live and card.status is AgentStatus.SERVING:
            raise AgentIdInUse(agent_id, card)
        left = card.stale_after - age
        if left <= 0:
            log.warning(
                "agent id '%s': the card of pid %s on %s is %.1fs old (stale); its process is "
                "gone or hung: taking the id over",
                agent_id,
                card.pid,
                card.host or "?",
                age,
            )
            return
        if live and not said_draining:
            log.warning(
                "agent id '%s' is held by a draining process (host %s, pid %s): waiting for "
                "it to finish its calls and clear its card",
                agent_id,
                card.host or "?",
                card.pid,
            )
            said_draining = True
        try:
            message = await next_card(left)
        except TimeoutError:
            log.warning(
                "agent id '%s': no heartbeat from pid %s on %s for %.1fs (its card is stale): "
                "taking the id over",
                agent_id,
                card.pid,
                card.host or "?",
                card.stale_after,
            )
            return


def process_of(card: AgentCard) -> str:
    """The process a card speaks for, as the user can find it: host, pid and start."""
    started = datetime.datetime.fromtimestamp(card.started_at, datetime.UTC)
    pid = card.pid if card.pid is not None else "?"
    return f"host {card.host or '?'}, pid {pid}, started {started:%Y-%m-%d %H:%M:%S} UTC"


def card_in(message: Message) -> AgentCard | None:
    """The card a message of a card topic holds; None when cleared or not a card."""
    if not message.payload:
        return None
    try:
        return AgentCard.model_validate_json(message.payload)
    except ValidationError:
        return None
