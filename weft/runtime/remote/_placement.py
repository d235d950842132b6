"""Which agent a remote call goes to, and when its holder counts as silent.

A caller with a directory sends each call to *one* agent's own call topic,
chosen here, rather than to the pool topic. Through a pool the caller learns
who holds a call only from the ack, and under load the ack can take seconds:
until it comes, a slow replica and a lost message look the same, and a
re-send to the pool lets a second replica run the call (measured: up to 21%
of 10,000 calls over 4 replicas ran twice). Sent to one agent, every re-send
of an attempt reaches that agent, which runs an attempt once; the call moves
to another agent only when that one is gone or silent.

The choice spreads the calls as a pool would, but by what the caller knows:
fresh agents before stale ones (a frozen replica gets nothing new), then the
fewest calls this caller has outstanding there per slot, then the load in the
agent's card; ties are broken at random so callers do not all pick the first.

``Placement`` is what ``RemoteAction`` asks the directory about one action's
calls: who serves it, where the next send goes, whether the holder is silent,
restarted, or has a fresh replica beside it. Its answers are reads of the
directory and of this caller's counts, with no I/O and no waiting, so the
decisions stay apart from the loop that carries them out (``remote_action``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping

from weft.protocols.topics import Topics
from weft.runtime.remote._call_state import CallState
from weft.runtime.remote.directory import AgentDirectory, AgentInfo

#: The silence bound in heartbeat intervals of the holder: its card and its
#: ``CallsHeld`` reports come once per interval, so three missed in a row is
#: no longer a late heartbeat on a busy machine.
SILENT_AFTER_HEARTBEATS = 3.0
#: Never less than this many seconds, whatever the heartbeat.
MIN_LIVENESS = 1.0


def choose(
    candidates: Iterable[AgentInfo], outstanding: Mapping[str, int], now: float
) -> AgentInfo | None:
    """The agent to send a new attempt to, or None when there is none."""
    best: AgentInfo | None = None
    best_score: tuple[bool, float, float, float] | None = None
    for info in candidates:
        capacity = max(info.card.load.capacity, 1)
        score = (
            not info.fresh(now),
            (outstanding.get(info.agent_id, 0) + 1) / capacity,
            info.card.load.ratio,
            random.random(),
        )
        if best_score is None or score < best_score:
            best, best_score = info, score
    return best


def liveness_bound(info: AgentInfo | None, configured: float | None) -> float:
    """Seconds without a sign of ``info``'s agent after which it counts as silent."""
    if configured is not None:
        return configured
    interval = info.card.heartbeat_interval if info is not None else 5.0
    return max(SILENT_AFTER_HEARTBEATS * interval, MIN_LIVENESS)


class Placement:
    """Where one action's calls go and how their holders stand, read from ``directory``.

    Without a directory, calls go to ``pool`` (or ``agent``) and nothing is known of
    the agents: nobody "serves" the action, nobody is elsewhere, nobody restarted.
    ``liveness`` is the configured silence bound (None: 3 heartbeats of the holder).
    """

    def __init__(
        self,
        action: str,
        directory: AgentDirectory | None,
        *,
        pool: str | None,
        agent: str | None,
        liveness: float | None,
    ) -> None:
        self.action = action
        self.directory = directory
        self.pool = pool
        self.agent = agent
        self.configured_liveness = liveness

    def _info(self, agent: str) -> AgentInfo | None:
        return self.directory.get(agent) if self.directory is not None else None

    def serves(self, agent: str) -> bool:
        """True if ``agent``'s card offers the action and the trust list lets it serve it."""
        info = self._info(agent)  # an untrusted card serves nothing (trust.py)
        return info is not None and info.card.serves(self.action) and info.trust.allows(self.action)

    def incarnation(self, agent: str) -> tuple[str, str] | None:
        """``(agent, incarnation)`` of the process whose card is listed now, None unlisted."""
        info = self._info(agent)
        return (agent, info.card.incarnation_key) if info is not None else None

    def liveness(self, agent: str) -> float:
        """Seconds without a sign of ``agent`` after which it counts as silent."""
        return liveness_bound(self._info(agent), self.configured_liveness)

    def last_sign(self, state: CallState, agent: str, heard: Mapping[str, float]) -> float:
        """When ``agent`` last showed it is alive: a card, any reply (``heard``), or taking
        this call."""
        last = max(heard.get(agent, 0.0), state.holder_since)
        info = self._info(agent)
        return max(last, info.last_seen) if info is not None else last

    def elsewhere(self, state: CallState, agent: str) -> bool:
        """True if a fresh agent other than ``agent`` could take the call."""
        if self.directory is None:
            return False
        return any(
            a.agent_id != agent and not state.avoids(a) and a.fresh()
            for a in self.directory.serving(self.action)
        )

    def restarted(self, state: CallState, agent: str) -> bool:
        """True if ``agent``'s card is from another process than the one that held the call."""
        info = self._info(agent)
        held = state.incarnation
        return (
            info is not None
            and held is not None
            and held[0] == agent
            and info.card.incarnation_key != held[1]
        )

    def restart_grace(self) -> float:
        """How long a holder may take to come back after a suspected broker restart."""
        interval = 5.0
        if self.directory is not None:
            intervals = [a.card.heartbeat_interval for a in self.directory.agents()]
            interval = max(intervals, default=interval)
        return 3 * interval + 10.0

    def target(
        self, state: CallState, topics: Topics, outstanding: Mapping[str, int], *, to_holder: bool
    ) -> tuple[str, str | None] | None:
        """``(topic, agent)`` of the next send (agent None: a pool), or None: nobody serves
        the action. ``outstanding`` is this caller's calls per agent (``choose``)."""
        if to_holder and state.holder is not None:
            return topics.agent_call(state.holder), state.holder
        if self.directory is None:
            if self.pool:
                return topics.pool_call(self.pool), None
            return topics.agent_call(str(self.agent)), self.agent
        serving = self.directory.serving(self.action)
        candidates = [a for a in serving if not state.avoids(a)]
        if not candidates:  # only incarnations the call left serve it: a fresh one is alive
            candidates = [a for a in serving if a.fresh()]
        best = choose(candidates, outstanding, time.time())
        return None if best is None else (topics.agent_call(best.agent_id), best.agent_id)
