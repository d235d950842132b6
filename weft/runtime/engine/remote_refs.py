"""The ``actions:`` entries that reach a server: ``a2a:`` agents and ``mcp:`` servers.

Split from ``compiler`` because these are the entries whose loading waits on
the network (an MQTT broker's retained card, an MCP server listed): every
failure is a ``DefinitionError`` at the entry's ``a2a:`` or ``mcp:`` line,
and ``compile_workflow_async`` answers the look-ups beforehand (``found``).
A definition whose fields failed loads neither (``is_reached``): what only
the server can say waits until the file is right.
"""

from __future__ import annotations

from pathlib import Path

from weft.agents.a2a_action import A2aAction
from weft.agents.a2a_mqtt_action import (
    DISCOVERY_TIMEOUT,
    A2aAgentNotFound,
    A2aMqttAction,
    discover_a2a_mqtt_sync,
)
from weft.protocols import Action, ActionRef, DefinitionError, WorkflowSpec, locate
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.discovery import Discoveries, is_mqtt_url
from weft.runtime.engine.source_tokens import token_of

__all__ = ["a2a_action", "is_reached", "register_mcp_tools"]


def is_reached(ref: ActionRef) -> bool:
    """Whether loading ``ref`` waits on a server (an MCP server, an A2A agent on a broker)."""
    return ref.mcp is not None or (ref.a2a is not None and is_mqtt_url(ref.a2a))


def a2a_action(name: str, ref: ActionRef, spec: WorkflowSpec, found: Discoveries | None) -> Action:
    """The A2A agent ``ref.a2a`` names; one on an MQTT broker must be there now: its
    retained card is read (up to ``ref.timeout`` or 5 s; by ``found`` when discovered
    beforehand), else a ``DefinitionError`` at the ``a2a:`` line naming the discovery
    topic it waited on."""
    assert ref.a2a is not None
    if not is_mqtt_url(ref.a2a):
        token = token_of(name, ref, spec)
        return A2aAction(ref.a2a, name=name, skill=ref.skill, timeout=ref.timeout, token=token)
    wait = ref.timeout or DISCOVERY_TIMEOUT
    try:
        card = found.a2a_card(ref.a2a, ref.timeout) if found is not None else None
        if card is None:
            card = discover_a2a_mqtt_sync(ref.a2a, timeout=wait)
    except (A2aAgentNotFound, ValueError, ImportError) as exc:
        where = locate(spec.source, ("actions", name, "a2a"))
        raise DefinitionError.single(f"action '{name}': {exc}", where) from None
    return A2aMqttAction(
        ref.a2a, name=name, skill=ref.skill, card=card, timeout=ref.timeout, discovery_timeout=wait
    )


def register_mcp_tools(
    name: str,
    ref: ActionRef,
    registry: ActionTable,
    base: Path,
    spec: WorkflowSpec,
    found: Discoveries | None,
) -> None:
    """Every tool of the MCP server ``ref.mcp`` names, as the action ``{name}.{tool}``;
    its resources as ``{name}.read_resource`` and prompts as ``{name}.prompt.<prompt>``.

    A command runs in the workflow file's folder. A server that cannot be
    started, reached or listed is a ``DefinitionError`` at the ``mcp:`` line;
    a node naming a tool the server lacks fails validation like any unknown
    action (with the server's tool names as hints).
    """
    from weft.agents.mcp_action import McpServerError, from_mcp

    where = locate(spec.source, ("actions", name, "mcp"))
    if ref.description is not None:
        raise DefinitionError.single(
            f"action '{name}': 'description' overrides one action's, and an MCP server "
            "brings one per tool (each keeps its own)",
            locate(spec.source, ("actions", name, "description")),
        )
    assert ref.mcp is not None
    token = token_of(name, ref, spec)
    try:
        tools = found.mcp_tools(name, ref.mcp, base, ref.token_env) if found is not None else None
        if tools is None:
            tools = from_mcp(
                ref.mcp, prefix=name, cwd=base, resources=True, prompts=True, token=token
            )
    except McpServerError as exc:
        raise DefinitionError.single(f"action '{name}': {exc}", where) from None
    # the server's tools now, and those it adds later (an action registered by the caller wins)
    registry.follow(tools)
