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
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

from weft.runtime.remote.directory import AgentInfo

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
