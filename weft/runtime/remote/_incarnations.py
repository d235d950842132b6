"""Which process of an agent id a card comes from, and whether it is news (``LiveRegistry``).

Kept apart from ``live_registry`` so that module stays about reading and
indexing cards, and this one about telling processes of one id apart.

Processes of one id (a fixed ``--agent-id``, restarted) are told apart by
``AgentCard.incarnation_key``, a random id each process draws when it starts,
compared for equality only: a restarted process whose clock is behind the
old one's still replaces it. No clock is needed to know which card is the
newer: the broker keeps the latest card of a topic, so the latest to arrive
is the latest published. Within one process ``seq`` orders its cards.

A process whose card was cleared and then replaced by another process's is
never taken back: a frozen process that thawed after a supervisor replaced
it (the new connection took the client id, the old one's Will cleared its
card) would otherwise flip the registry back to a process that lost its
calls. The incarnation whose card was cleared is remembered per id (the same
one may come back: a broker restart fires every Will), and the last
``REPLACED_KEPT`` incarnations replaced after a clear.

One exception: a replaced process that started *after* the process that
replaced it (``started_at``, ties broken by the incarnation: the order
``_twin_watch`` uses) is taken back. That is not a thawed process but one
of two twins that passed the id check together and took the id from each
other: the older twin yields, and the newer one, which may have been seen
cleared and replaced by it meanwhile, is the one that stays.

A card of another process that replaces the current one *without* a clear
between is taken as a restart, but does not retire the current process:
without an ACL anyone may replay an old signed card on the topic, and
retiring the live process then would lock its own heartbeats out. The
live process's next heartbeat makes it current again (a second
``restarted``); calls moved meanwhile go to the same agent id, whose
process runs each call once (``agent_host``).
"""

from __future__ import annotations

from collections import deque

from weft.protocols import AgentCard

#: Incarnations remembered per agent id once replaced by another (never taken back).
REPLACED_KEPT = 8
#: Agent ids whose last incarnation is remembered after their card was cleared.
CLEARED_KEPT = 100_000


class Incarnations:
    """The incarnations of each agent id seen replaced, and those whose card was cleared."""

    def __init__(self) -> None:
        #: Per agent id: replaced incarnation -> the (start, incarnation) of its replacer.
        self._replaced: dict[str, dict[str, tuple[float, str]]] = {}
        self._order: dict[str, deque[str]] = {}
        self._cleared: dict[str, str] = {}

    def outdated(self, agent_id: str, known: AgentCard | None, card: AgentCard) -> bool:
        """True if ``card`` is no news next to ``known`` (the card held for ``agent_id``):
        a copy of one already seen, or a card of a process replaced after a clear. Notes
        such a replacement as it goes, so call it once per card received."""
        key = card.incarnation_key
        replaced = self._replaced.get(agent_id)
        if replaced is not None and key in replaced:
            if (card.started_at, card.incarnation or "") <= replaced[key]:
                return True
            del replaced[key]  # the newer of two twins: it stays, the older yields
            self._order[agent_id].remove(key)
        if known is None:
            cleared = self._cleared.pop(agent_id, None)
            if cleared is not None and cleared != key:
                self._retire(agent_id, cleared, (card.started_at, card.incarnation or ""))
            return False
        if key == known.incarnation_key:
            return card.seq <= known.seq  # a retained replay of a card already seen
        return False  # another process, no clear between: a restart, nothing retired

    def cleared(self, agent_id: str, card: AgentCard) -> None:
        """``card``'s process had its card cleared (it stopped, died, or the broker restarted)."""
        cleared = self._cleared
        cleared.pop(agent_id, None)  # re-inserted last: the oldest go first
        cleared[agent_id] = card.incarnation_key
        if len(cleared) > CLEARED_KEPT:
            del cleared[next(iter(cleared))]

    def _retire(self, agent_id: str, key: str, replacer: tuple[float, str]) -> None:
        replaced = self._replaced.setdefault(agent_id, {})
        order = self._order.setdefault(agent_id, deque())
        if key not in replaced:
            order.append(key)
        replaced[key] = replacer
        while len(order) > REPLACED_KEPT:
            replaced.pop(order.popleft(), None)
