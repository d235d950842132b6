"""Noticing a second live process under this agent's id, and yielding the id to the newer one.

``check_agent_id`` refuses a second process at start while the first one
serves, but it cannot be atomic: two processes that look at the same moment
both find the id free. That happens whenever two are started together, and
also when two wait for the same draining holder: its cleared card frees the
id for both at once. The id is also the MQTT client id, so the broker then
disconnects one whenever the other connects, for ever.

So a host also listens on its own card topic. A card there from another
incarnation of the id, with a later start (ties broken by the incarnation,
so both processes agree on who that is), means a newer process serves the
id: this one yields, as a hung process that a supervisor replaced must when
it thaws. A card from an older incarnation is ignored: its process yields
when it reads ours, or is long gone (the retained card of a stale holder).
The fight can keep a process from subscribing, so from announcing itself,
while a twin serves: the watch starts before the host subscribes, and a
process that has not sent its card yet yields to any twin whose card is
published meanwhile (the twin cannot know of it). Exactly one of any number
of twins keeps the id.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

from weft.protocols import AgentCard, WeftError
from weft.runtime.bus.base import Bus, Subscription
from weft.runtime.remote.agent_id_check import card_in, process_of

__all__ = ["AgentIdTaken", "start_twin_watch", "watch_for_twins"]

log = logging.getLogger(__name__)


class AgentIdTaken(WeftError):
    """A newer process serves this agent id: this one stopped rather than fight over it."""

    def __init__(self, agent_id: str, card: AgentCard, pid: int) -> None:
        super().__init__(
            f"agent id '{agent_id}' is now served by another process ({process_of(card)}): "
            f"this process (pid {pid}) stopped rather than take the id from it; two "
            "processes were started with one --agent-id"
        )
        self.agent_id = agent_id
        self.card = card


def newer(card: AgentCard, started_at: float, incarnation: str) -> bool:
    """True if ``card``'s process started after ours (the incarnation breaks a tie)."""
    return (card.started_at, card.incarnation or "") > (started_at, incarnation)


async def watch_for_twins(
    sub: Subscription,
    started_at: float,
    incarnation: str,
    on_newer: Callable[[AgentCard], None],
    announced: Callable[[], bool] = lambda: True,
) -> None:
    """Read the id's card topic; call ``on_newer`` once with the first newer twin's card,
    or with any twin's card published while this process has not sent its own yet.

    The second case: the fight over the MQTT client id can keep this process from
    subscribing, hence from announcing itself, while a twin serves. That twin never
    learns of it, so this one must yield (retained cards are not proof of a live
    process: ``agent_id_check`` judged those).
    """
    async for message in sub:
        card = card_in(message)
        if card is None:
            continue  # cleared (by our own Will or stop, or a twin's), or not a card
        if card.incarnation in (None, incarnation):
            continue  # our own card, or one from a weft without incarnations
        first = not message.retain and not announced()
        if first or newer(card, started_at, incarnation):
            log.error(
                "agent %s: another process serves this id (host %s, pid %s); stopping this "
                "one (pid %s) rather than fight over it",
                card.agent_id,
                card.host or "?",
                card.pid,
                os.getpid(),
            )
            on_newer(card)
            return
        log.debug(
            "agent %s: ignoring the card of an older process (pid %s)", card.agent_id, card.pid
        )


async def start_twin_watch(
    bus: Bus,
    agent_id: str,
    started_at: float,
    incarnation: str,
    on_newer: Callable[[AgentCard], None],
    announced: Callable[[], bool],
) -> tuple[Subscription, asyncio.Task[None]]:
    """Watch ``agent_id``'s card topic on ``bus`` (not the agent's own connection): the
    subscription and the task reading it (it ends when the subscription is closed)."""
    sub = await bus.subscribe(bus.topics.card(agent_id), qos=1)
    task = asyncio.create_task(
        watch_for_twins(sub, started_at, incarnation, on_newer, announced),
        name=f"weft-agent-{agent_id}-twins",
    )
    return sub, task
