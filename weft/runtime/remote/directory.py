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
from dataclasses import dataclass, field
from typing import Protocol

from weft.protocols import AgentCard, AgentStatus

Listener = Callable[[str, str], None]
"""Called with ``(change, agent_id)``; change is ``appeared``, ``updated``, ``restarted``
(a card of the same id from a new process, its ``incarnation_key`` changed, with no ``gone``
between: the old process's calls are lost) or ``gone``."""


@dataclass(frozen=True)
class Trust:
    """Which of an agent's actions a caller may send calls to, and why (for people).

    ``allowed`` None means every action: what a directory that does not
    judge cards gives. ``LiveRegistry`` judges every card it reads against
    its trust list (``weft.runtime.remote.trust``).
    """

    allowed: frozenset[str] | None = None
    signer: str | None = None
    """The base64 public key whose signature on the card verified, if any."""
    note: str = ""
    """Why the card is trusted ("local key ..."), or why not ("unsigned card")."""

    def allows(self, action: str) -> bool:
        return self.allowed is None or action in self.allowed

    def label(self, actions: list[str]) -> str:
        """``trusted``, ``untrusted`` or ``partly trusted`` for a card serving ``actions``."""
        allowed = [a for a in actions if self.allows(a)]
        if len(allowed) == len(actions):
            return "trusted"
        return "partly trusted" if allowed else "untrusted"


@dataclass
class AgentInfo:
    """One agent as a directory knows it: its latest card and when that was published.

    ``last_seen`` is the Unix time, on this process's clock, at which the
    latest card was *published* (``weft.protocols.remote.card_age``), not
    when it arrived: a retained card handed over by the broker on subscribe
    may be much older than its arrival.
    """

    card: AgentCard
    first_seen: float
    last_seen: float
    verdict: Trust | Callable[[], Trust] = field(default_factory=Trust)
    """The ``Trust``, or how to reach it: a directory may judge a card only when asked.

    Checking a card's signature costs an Ed25519 verification (about 0.1 ms),
    which for ten thousand retained cards would dominate taking them in,
    while a caller usually asks about a few of them. ``trust`` runs the
    judgement on first use and keeps its answer.
    """

    @property
    def trust(self) -> Trust:
        """Which of its actions this caller may call (an untrusted one is listed, never called)."""
        verdict = self.verdict
        if not isinstance(verdict, Trust):
            verdict = self.verdict = verdict()
        return verdict

    @property
    def judged(self) -> bool:
        """Whether ``trust`` is known without judging the card now."""
        return isinstance(self.verdict, Trust)

    @property
    def agent_id(self) -> str:
        return self.card.agent_id

    @property
    def stale_after(self) -> float:
        """Seconds without a refreshed card after which the agent counts as stale."""
        return self.card.stale_after

    def age(self, now: float | None = None) -> float:
        """Seconds since the latest card was published."""
        return max((time.time() if now is None else now) - self.last_seen, 0.0)

    def fresh(self, now: float | None = None) -> bool:
        """Refreshed within ``stale_after``: not hung, frozen or cut off, as far as we know."""
        return self.age(now) <= self.stale_after

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
        """Agents that take calls for ``action`` now (fresh or stale, not draining) and are
        trusted to serve it: the only agents a ``RemoteAction`` sends the call to."""
        ...

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change, agent_id)`` on every change; returns the unsubscribe.

        Listeners run synchronously where the change is learnt and must not block.
        """
        ...
