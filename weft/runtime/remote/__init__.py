"""Agents in other processes: serving actions on a bus and calling them there.

``AgentHost`` serves actions from one process (cards, heartbeats, bounded
concurrency, drain on shutdown); ``RemoteAction`` is how a caller sees one of
them: an ordinary action whose calls go over the bus; ``LiveRegistry`` keeps
the directory of live agents from their retained cards (``AgentDirectory`` is
what a ``RemoteAction`` needs of it); ``CallClient`` is the one request/reply
path callers use. ``AgentKey`` signs an agent's card and ``TrustPolicy`` is the
caller's list of who may serve what (``trust``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AgentDirectory": "weft.runtime.remote.directory",
    "AgentHost": "weft.runtime.remote.agent_host",
    "AgentIdInUse": "weft.runtime.remote.agent_id_check",
    "AgentIdTaken": "weft.runtime.remote._twin_watch",
    "AgentInfo": "weft.runtime.remote.directory",
    "AgentKey": "weft.runtime.remote.card_signing",
    "CallClient": "weft.runtime.remote.call_client",
    "LiveRegistry": "weft.runtime.remote.live_registry",
    "RemoteAction": "weft.runtime.remote.remote_action",
    "Trust": "weft.runtime.remote.directory",
    "TrustPolicy": "weft.runtime.remote.trust",
    "TrustRule": "weft.runtime.remote.trust",
    "agent_will": "weft.runtime.remote.agent_host",
    "check_agent_id": "weft.runtime.remote.agent_id_check",
    "hosted": "weft.runtime.remote.agent_host",
    "new_agent_id": "weft.runtime.remote.agent_host",
    "remote_actions": "weft.runtime.remote.distributed",
}

__all__ = [
    "AgentDirectory",
    "AgentHost",
    "AgentIdInUse",
    "AgentIdTaken",
    "AgentInfo",
    "AgentKey",
    "CallClient",
    "LiveRegistry",
    "RemoteAction",
    "Trust",
    "TrustPolicy",
    "TrustRule",
    "agent_will",
    "check_agent_id",
    "hosted",
    "new_agent_id",
    "remote_actions",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.remote._twin_watch import AgentIdTaken
    from weft.runtime.remote.agent_host import AgentHost, agent_will, hosted, new_agent_id
    from weft.runtime.remote.agent_id_check import AgentIdInUse, check_agent_id
    from weft.runtime.remote.call_client import CallClient
    from weft.runtime.remote.card_signing import AgentKey
    from weft.runtime.remote.directory import AgentDirectory, AgentInfo, Trust
    from weft.runtime.remote.distributed import remote_actions
    from weft.runtime.remote.live_registry import LiveRegistry
    from weft.runtime.remote.remote_action import RemoteAction
    from weft.runtime.remote.trust import TrustPolicy, TrustRule
