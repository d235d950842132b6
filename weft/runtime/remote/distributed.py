"""Running a workflow whose actions live in other processes (``weft run --broker``).

Precedence, for each action a workflow names (nodes and edge critics):

1. an action that a live agent serves is called remotely, even when the
   workflow file could import it (its ``actions:`` section or the builder's
   objects): ``--broker`` means "use the agents";
2. an action no agent serves runs locally when the workflow defines it;
3. an action that is neither is waited for, up to ``wait`` seconds, then the
   run is refused with an error listing the missing actions.

Sub-workflows included by file are prepared on their own and run their
actions locally.

Whether to connect at all is the caller's choice. The CLI's rule: a broker
given with ``--broker`` is always used (and must be reachable); one that comes
from ``$WEFT_BROKER`` only when ``unresolved_actions`` is not empty, so a
workflow that defines all its actions runs without the broker, even when the
broker is down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from weft.protocols import WorkflowSpec
from weft.runtime.engine.compiler import load_definition
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.remote.trust import TrustPolicy
from weft.workflows import Workflow


def workflow_actions(definition: WorkflowSpec | Workflow | str | Path) -> tuple[set[str], set[str]]:
    """``(needed, local)``: action names the workflow calls, and those it defines itself."""
    loaded = load_definition(definition) if isinstance(definition, str | Path) else definition
    if isinstance(loaded, Workflow):
        local = set(loaded.actions)
        spec = loaded.build()
    else:
        spec = loaded
        local = set()
    local |= set(spec.actions)
    needed = {node.action for node in spec.nodes.values() if node.action}
    needed |= {edge.critic for node in spec.nodes.values() for edge in node.after if edge.critic}
    return needed, local


def unresolved_actions(definition: WorkflowSpec | Workflow | str | Path) -> set[str]:
    """The actions the workflow calls but does not define: only agents can provide them.

    Raises ``DefinitionError`` for a file that does not load.
    """
    needed, local = workflow_actions(definition)
    return needed - local


async def actions_for(
    definition: WorkflowSpec | Workflow | str | Path, registry: LiveRegistry, *, wait: float
) -> ActionRegistry:
    """Remote actions for ``definition`` per the precedence above.

    Raises ``WeftError`` when actions the workflow does not define stay
    unserved for ``wait`` seconds, and ``DefinitionError`` for a bad file.
    """
    needed, local = workflow_actions(definition)
    served = set(registry.action_names())
    missing = needed - local - served
    if missing:
        await registry.wait_for(missing, wait)
    if _has_capability_nodes(definition):  # a router chooses among every agent served
        return registry.actions(sorted(served | missing))
    return registry.actions(sorted((needed & served) | missing))


def _has_capability_nodes(definition: WorkflowSpec | Workflow | str | Path) -> bool:
    loaded = load_definition(definition) if isinstance(definition, str | Path) else definition
    spec = loaded.build() if isinstance(loaded, Workflow) else loaded
    return any(node.capability is not None for node in spec.nodes.values())


@asynccontextmanager
async def remote_actions(
    broker: str,
    definition: WorkflowSpec | Workflow | str | Path,
    *,
    namespace: str = "default",
    wait: float = 30.0,
    trust: TrustPolicy | str | None = None,
) -> AsyncIterator[ActionRegistry]:
    """Connect to ``broker``, learn its agents, yield the remote actions of ``definition``.

    The connection stays open inside the ``async with`` block, where the
    workflow runs; it closes afterwards. Only agents trusted for an action
    are called (``trust``: a ``TrustPolicy`` or a trust list's path; by
    default ``TrustPolicy.load()``, see ``weft.runtime.remote.trust``).
    """
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

    async with (
        MqttBus(broker, namespace=namespace) as bus,
        LiveRegistry(bus, trust=trust) as registry,
    ):
        yield await actions_for(definition, registry, wait=wait)
