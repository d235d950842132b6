"""``TeamSettings``: how a team converses, shared by ``Team`` and its ``Conversation``."""

from __future__ import annotations

from dataclasses import dataclass, field

from weft.runtime.teams.speakers import RoundRobin, SpeakerSelector


@dataclass
class TeamSettings:
    """How a team converses; see ``Team`` for what each setting means."""

    name: str
    max_turns: int = 20
    window: int = 20
    team_up_depth: int = 2
    pause_timeout: float | None = 600.0
    selector: SpeakerSelector = field(default_factory=RoundRobin)
