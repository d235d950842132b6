"""Replies the broker could not take: one warning when they start, one line when they stop.

A broker outage longer than the bus's reconnect timeout fails every reply
due in it. Nothing is lost (the result stays in the host's call table; the
caller re-sends the call on reconnect and gets it), so a warning per call,
hundreds after a long network cut, would bury the one line that matters.
The count goes on the agent's card (``AgentLoad.unsent``), where `weft
agents --json` shows it.
"""

from __future__ import annotations

import logging

from weft.protocols.errors import BusError
from weft.protocols.remote import AgentLoad

log = logging.getLogger("weft.runtime.remote.agent_host")


class UnsentReplies:
    """Counts the replies of one agent that could not be sent, and says so twice at most."""

    def __init__(self, agent_id: str, load: AgentLoad) -> None:
        self.agent_id = agent_id
        self.load = load
        #: Replies failed since the last one that got through.
        self.streak = 0

    def failed(self, topic: str, exc: BusError) -> None:
        """A reply on ``topic`` failed: warned about if it is the first of a streak."""
        self.load.unsent += 1
        self.streak += 1
        if self.streak == 1:
            log.warning(
                "agent %s could not reply on %s: %s (the caller re-sends the call and gets the "
                "kept result; more replies that fail before one gets through are only counted)",
                self.agent_id,
                topic,
                exc,
            )

    def replied(self) -> None:
        """A reply got through: ends a streak, with its count when it was more than one."""
        if not self.streak:
            return
        if self.streak > 1:
            log.warning(
                "agent %s replies again; %d replies could not be sent in the meantime (their "
                "callers re-send the calls and get the kept results)",
                self.agent_id,
                self.streak,
            )
        self.streak = 0
