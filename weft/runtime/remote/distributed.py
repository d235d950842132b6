"""Running a workflow whose actions live in other processes (``weft run --broker``).

Precedence, for each action a workflow names (nodes, edge critics, and the
names a node's own action says its ``with:`` refers to, such as a team's
members: ``weft.protocols.references``):

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

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weft.protocols import Location, WeftError, WorkflowSpec
from weft.protocols.references import referenced_actions_of
from weft.protocols.source import locate
from weft.runtime.engine.compiler import load_definition
from weft.runtime.engine.importing import import_object, import_paths, workflow_folders
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.remote.candidates import candidate_actions
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.remote.trust import TrustPolicy
from weft.workflows import Workflow

Definition = WorkflowSpec | Workflow | str | Path

log = logging.getLogger(__name__)


@dataclass
class WorkflowActions:
    """The action names a workflow may call, and which of them it defines itself.

    ``referenced`` are the names given inside a node's arguments (a team's
    ``members``), with where: they come from the node's own action
    (``weft.protocols.references``), and are needed like any node's action.
    """

    needed: set[str]
    local: set[str]
    referenced: dict[str, list[Location]] = field(default_factory=dict)
    capability_nodes: bool = False


def survey(definition: Definition) -> WorkflowActions:
    """Every action name ``definition`` calls: nodes, edge critics and names in nodes' arguments.

    A node whose action the workflow defines (an ``actions:`` entry given by
    ``python:``, or a builder's object) is asked which names its ``with:``
    refers to; a remote node action is not: its agent resolves its own
    names. Raises ``DefinitionError`` for a file that does not load or an
    action that does not import.
    """
    loaded = load_definition(definition) if isinstance(definition, str | Path) else definition
    objects: dict[str, Any] = {}
    if isinstance(loaded, Workflow):
        objects = dict(loaded.actions)
        spec = loaded.build()
    else:
        spec = loaded
    local = set(objects) | set(spec.actions)
    needed = {node.action for node in spec.nodes.values() if node.action}
    needed |= {edge.critic for node in spec.nodes.values() for edge in node.after if edge.critic}
    found = WorkflowActions(
        needed,
        local,
        capability_nodes=any(node.capability is not None for node in spec.nodes.values()),
    )
    actions = {node.action for node in spec.nodes.values() if node.action}
    objects.update(_imported(spec, actions & local - set(objects)))
    for name, node in spec.nodes.items():
        if node.action not in objects:
            continue
        where = locate(spec.source, ("nodes", name, "with"), node=name, field_name="with")
        for referenced in referenced_actions_of(objects[node.action], node.with_):
            found.referenced.setdefault(referenced, []).append(where)
    _llm_tools(spec, found.referenced)
    found.needed |= set(found.referenced)
    return found


def _llm_tools(spec: WorkflowSpec, referenced: dict[str, list[Location]]) -> None:
    """Add the tools of the file's ``llm:`` agents to ``referenced``: a tool the file
    does not define is an agent's action. An MCP server's tools (``<server>.<tool>``)
    are the file's own, though only the server knows their names."""
    servers = {name for name, ref in spec.actions.items() if ref.mcp is not None}
    for name, ref in spec.actions.items():
        for option in ("tools", "handoffs"):
            for index, tool in enumerate(getattr(ref.llm, option) if ref.llm is not None else ()):
                if tool.split(".", 1)[0] in servers and "." in tool:
                    continue
                field_name = f"actions.{name}.llm.{option}[{index}]"
                where = locate(
                    spec.source, ("actions", name, "llm", option, index), field_name=field_name
                )
                referenced.setdefault(tool, []).append(where)


def _imported(spec: WorkflowSpec, names: set[str]) -> dict[str, Any]:
    """The objects of the ``python:`` actions in ``names``, imported as compiling will."""
    refs = {n: spec.actions[n] for n in sorted(names) if n in spec.actions}
    refs = {n: ref for n, ref in refs.items() if ref.python is not None}
    if not refs:
        return {}
    source_file = spec.source.file if spec.source is not None else None
    base = Path(source_file).parent if source_file else Path.cwd()
    folders = workflow_folders(spec)
    with import_paths([base, *[(base / p).resolve() for p in spec.python_path]]):
        return {
            name: import_object(
                str(ref.python), where=locate(spec.source, ("actions", name)), folders=folders
            )
            for name, ref in refs.items()
        }


def workflow_actions(definition: Definition) -> tuple[set[str], set[str]]:
    """``(needed, local)``: action names the workflow calls, and those it defines itself."""
    found = survey(definition)
    return found.needed, found.local


def unresolved_actions(definition: Definition) -> set[str]:
    """The actions the workflow calls but does not define: only agents can provide them.

    Raises ``DefinitionError`` for a file that does not load.
    """
    needed, local = workflow_actions(definition)
    return needed - local


async def actions_for(
    definition: Definition, registry: LiveRegistry, *, wait: float
) -> ActionRegistry:
    """Remote actions for ``definition`` per the precedence above.

    Raises ``WeftError`` when actions the workflow does not define stay
    unserved for ``wait`` seconds (naming, for a name given in a node's
    arguments, the node and line it comes from), and ``DefinitionError`` for
    a bad file.
    """
    found = survey(definition)
    # only the agents claiming a needed action are judged now, and warned about
    served = {name for name in found.needed if registry.serving(name)}
    if not found.capability_nodes:
        _note_ignored(registry, found.needed)
    missing = found.needed - found.local - served
    if missing:
        try:
            await registry.wait_for(missing, wait)
        except WeftError as exc:
            gone = sorted(n for n in missing if not registry.serving(n))
            raise WeftError(str(exc) + _named_where(gone, found.referenced)) from None
    if not found.capability_nodes:
        return registry.actions(sorted((found.needed & served) | missing))
    # A router may choose any served action. The workflow's own actions are judged now
    # (a trusted agent's wins over the file's, an untrusted one leaves the file's); every
    # other one's agents when the router chooses it (``candidates``), not each agent now.
    own = {name for name in found.local if registry.serving(name)}
    actions = registry.actions(sorted(served | missing | own))
    candidates = candidate_actions(registry, exclude={*found.local, *actions.names()})
    for name, action in candidates.items():
        actions.register(action, name=name)
    return actions


def _note_ignored(registry: LiveRegistry, needed: set[str]) -> None:
    """Say, at info level and once, how many agents serve only actions this run does not
    use: they are not judged (no signature checked), so an untrusted one among them is
    not warned about; an untrusted agent claiming a needed action still is."""
    ignored = [
        info
        for info in registry.agents()
        if info.card.actions and not any(s.name in needed for s in info.card.actions)
    ]
    if ignored:
        log.info(
            "%d agent(s) serving only actions this run does not use were ignored "
            "(their trust is not checked; weft agents lists them)",
            len(ignored),
        )


def _named_where(names: list[str], referenced: dict[str, list[Location]]) -> str:
    """``; 'x' is named in FILE:LINE, node 'n', field 'with'`` for names given as arguments."""
    told = [
        f"'{n}' is named in {'; '.join(map(str, referenced[n]))}" for n in names if n in referenced
    ]
    return "".join(f"; {line}" for line in told)


@asynccontextmanager
async def remote_actions(
    broker: str,
    definition: Definition,
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
