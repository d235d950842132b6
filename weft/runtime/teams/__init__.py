"""IoA teams and FoA clusters: agents that converse, and agents that refine each other.

``Team`` (``team.py``) is an action whose members converse on a team topic
under flow control (``state_machine.py``, ``conversation.py``; the member
protocol in ``member.py``); ``Formation`` picks members through a router;
``Cluster`` (``cluster.py``) lets agents on similar subtasks refine each
other's output for k rounds, then synthesises; ``group_similar`` finds those
subtasks. ``team_action`` and ``cluster_action`` are the same, configured by
their arguments, for YAML. See docs/teams.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Cluster": "weft.runtime.teams.cluster",
    "FlowControl": "weft.runtime.teams.state_machine",
    "Formation": "weft.runtime.teams.formation",
    "LLMSelector": "weft.runtime.teams.speakers",
    "RoundRobin": "weft.runtime.teams.speakers",
    "SpeakerSelector": "weft.runtime.teams.speakers",
    "Team": "weft.runtime.teams.team",
    "TeamMember": "weft.runtime.teams.member",
    "cluster_action": "weft.runtime.teams.yaml_actions",
    "group_similar": "weft.runtime.teams.grouping",
    "is_legal": "weft.runtime.teams.state_machine",
    "plan_channels": "weft.runtime.teams.grouping",
    "reply_of": "weft.runtime.teams.member",
    "team_action": "weft.runtime.teams.yaml_actions",
}

__all__ = [
    "Cluster",
    "FlowControl",
    "Formation",
    "LLMSelector",
    "RoundRobin",
    "SpeakerSelector",
    "Team",
    "TeamMember",
    "cluster_action",
    "group_similar",
    "is_legal",
    "plan_channels",
    "reply_of",
    "team_action",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.teams.cluster import Cluster
    from weft.runtime.teams.formation import Formation
    from weft.runtime.teams.grouping import group_similar, plan_channels
    from weft.runtime.teams.member import TeamMember, reply_of
    from weft.runtime.teams.speakers import LLMSelector, RoundRobin, SpeakerSelector
    from weft.runtime.teams.state_machine import FlowControl, is_legal
    from weft.runtime.teams.team import Team
    from weft.runtime.teams.yaml_actions import cluster_action, team_action
