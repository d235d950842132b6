"""What a caller needs to know about live agents: the ``AgentDirectory`` protocol.

``RemoteAction`` follows the agents that serve its action (who is there,
who vanished, who came back) through this small interface rather than
through ``LiveRegistry`` itself, so that the action does not depend on how
presence is learnt. ``LiveRegistry`` (retained cards on the bus) is the
implementation weft ships; a test or another discovery mechanism can
provide its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from weft.protocols import AgentCard, AgentStatus

Listener = Callable[[str, str], None]
"""Called with ``(change, agent_id)``; change is ``appeared``, ``updated`` or ``gone``."""


@dataclass
class AgentInfo:
    """One agent as a directory knows it: its latest card and when it was seen."""

    card: AgentCard
    first_seen: float
    last_seen: float

    @property
    def agent_id(self) -> str:
        return self.card.agent_id

    @property
    def stale_after(self) -> float:
        """Seconds without a refreshed card after which the agent counts as stale."""
        return 3 * self.card.heartbeat_interval + 2.0

    def fresh(self, now: float | None = None) -> bool:
        return ((now or time.time()) - self.last_seen) <= self.stale_after

    @property
    def serving(self) -> bool:
        return self.card.status is AgentStatus.SERVING


class AgentDirectory(Protocol):
    """The live agents of one namespace, as ``RemoteAction`` reads them."""

    def agents(self) -> list[AgentInfo]:
        """Every known agent, serving or not, sorted by id."""
        ...

    def get(self, agent_id: str) -> AgentInfo | None: ...

    def serving(self, action: str) -> list[AgentInfo]:
        """Agents that take calls for ``action`` now (fresh or stale, not draining)."""
        ...

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change, agent_id)`` on every change; returns the unsubscribe.

        Listeners run synchronously where the change is learnt and must not block.
        """
        ...
