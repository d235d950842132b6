"""The actions an agent host serves (``hosted``) and its card lists (``served_specs``).

Split from ``agent_host`` (module size), which re-exports ``hosted``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from weft.protocols import ActionSpec, CapabilityCard, Topics
from weft.runtime.engine.registry import ActionRegistry

__all__ = ["hosted", "served_specs"]


def served_specs(
    registry: ActionRegistry, pools: dict[str, str], topics: Topics, agent_id: str
) -> list[ActionSpec]:
    """Each action's spec under its served name, its capability card naming the topic a
    call goes to: the pool's when the action is pooled, else the agent's own."""
    specs = []
    for name in registry.names():
        spec = registry.get(name).spec.model_copy()
        pool = pools.get(name)
        topic = topics.pool_call(pool) if pool else topics.agent_call(agent_id)
        if spec.card is None:
            spec.card = CapabilityCard(
                agent_id=pool or agent_id, description=spec.description, topic=topic
            )
        elif spec.card.topic is None:
            spec.card = spec.card.model_copy(update={"topic": topic})
        specs.append(spec if spec.name == name else spec.model_copy(update={"name": name}))
    return specs


def hosted(objects: Iterable[Any]) -> ActionRegistry:
    """A registry from what ``weft agent serve`` imported: actions, functions, lists, dicts."""
    registry = ActionRegistry()
    for obj in objects:
        if isinstance(obj, dict):
            for name, item in obj.items():
                registry.register(item, name=name)
        elif isinstance(obj, list | tuple):
            for item in obj:
                registry.register(item)
        else:
            registry.register(obj)
    return registry
