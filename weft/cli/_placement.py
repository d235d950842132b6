"""Where each node of a run ran: in this process, on which agents, or elsewhere.

The engine's finished-call events carry the action and, for a call answered
outside this process, who answered (``ActionResult.agent``): a weft agent's
id, or where an action that calls out sent the work, as the action's
``where`` says it: ``a2a URL`` for an A2A agent (HTTP or MQTT), ``mcp
SERVER`` for an MCP tool. Those are shown as they are; this module needs no
knowledge of the actions themselves (the CLI does not import agent internals).

A capability node names no action: the action its router chose is read from
the progress event its call sends when it is routed (``capability`` and
``chosen`` in its data, ``weft.runtime.engine.capability``), per call, so a
retry that was routed again counts once, as the action that served it last.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from weft.protocols import EventKind, NodeState, RunEvent

#: Shown for a node whose action is remote but no agent took its call (none served it,
#: none acknowledged it): it ran nowhere, and its error line says why. A call an agent
#: accepted and kept past its deadline names that agent (``ActionResult.agent``).
UNANSWERED = "remote, no agent answered"

#: How an action that calls out names where its calls ran (its ``where``): shown as is.
ELSEWHERE = ("a2a ", "mcp ")


def _place(answerer: str) -> str:
    """``agent ID`` for a weft agent, the action's own words (``a2a URL``) otherwise."""
    return answerer if answerer.startswith(ELSEWHERE) else f"agent {answerer}"


class Placements:
    """Collects, per top-level node, its action and the agents that answered its calls.

    ``remote`` names the actions that agents serve in this run. Attach
    ``on_event`` as a run listener: without it every node that ran is local.
    """

    def __init__(self, remote: Iterable[str] = ()) -> None:
        self.remote = set(remote)
        self.actions: dict[str, str] = {}
        self.agents: dict[str, Counter[str]] = {}
        #: Per capability node, the action its router chose for each call (by call key).
        self.chosen: dict[str, dict[str, str]] = {}

    def on_event(self, event: RunEvent) -> None:
        node = event.node
        if event.kind is EventKind.PROGRESS:
            self._routed(event)
        if event.kind is not EventKind.NODE_FINISHED or not node or "/" in node:
            return  # nodes of sub-workflows run their actions locally
        data = event.data
        action = data.get("action")
        if action:
            self.actions[node] = str(action)
        agent = data.get("agent")
        if agent and not self._names_itself(node, str(agent)):
            self.agents.setdefault(node, Counter())[str(agent)] += 1

    def _names_itself(self, node: str, answerer: str) -> bool:
        """Whether ``answerer`` is the name of an action that ran here: an ``LLMAgent``
        names itself as its result's agent, and the summary would call it ``agent NAME``
        as if an agent process had served it."""
        if answerer in self.remote:
            return False
        return answerer == self.actions.get(node) or answerer in self.chosen.get(node, {}).values()

    def _routed(self, event: RunEvent) -> None:
        """Note the action a capability node's call was routed to (none when no agent fit)."""
        node, key, data = event.node, event.key, event.data
        if not node or not key or "/" in key or "/" in node:
            return  # a sub-workflow's events name its nodes without the parent's prefix
        chosen = data.get("chosen")
        if "capability" in data and chosen:
            self.chosen.setdefault(node, {})[key] = str(chosen)

    def routes_of(self, name: str) -> dict[str, int]:
        """The actions a capability node's calls were routed to, with their calls, most
        first (``--json``'s ``routed_to``); empty for any other node."""
        return dict(Counter(self.chosen.get(name, {}).values()).most_common())

    def routed_to(self, name: str) -> str:
        """``routed to ACTION`` for a capability node (``routed to A (2 calls), B (1 call)``
        for a ``foreach`` whose items went to several), empty for any other node."""
        counts = self.routes_of(name)
        if not counts:
            return ""
        if len(counts) == 1:
            return f"routed to {next(iter(counts))}"
        return "routed to " + ", ".join(f"{a} ({_calls(n)})" for a, n in counts.items())

    def agents_of(self, name: str) -> list[str]:
        """The agents that answered the node's calls, most calls first."""
        return [agent for agent, _ in self.agents.get(name, Counter()).most_common()]

    def where(self, outcome: Any) -> str:
        """``local``, ``agent ID``, ``agents A (3 calls), B (2 calls)``, ``a2a URL``,
        ``mcp SERVER``, ``remote, no agent answered``, or empty for a node that made no
        call (skipped, from the journal)."""
        if outcome.cached or outcome.state is NodeState.SKIPPED or not outcome.attempts:
            return ""
        counts = self.agents.get(outcome.name)
        if counts:
            if len(counts) == 1:
                return _place(next(iter(counts)))
            ranked = counts.most_common()
            if any(a.startswith(ELSEWHERE) for a, _ in ranked):
                return ", ".join(f"{_place(a)} ({_calls(n)})" for a, n in ranked)
            return "agents " + ", ".join(f"{a} ({_calls(n)})" for a, n in ranked)
        if self.actions.get(outcome.name) in self.remote:
            return UNANSWERED
        return "local"


def _calls(n: int) -> str:
    return f"{n} call{'s' if n > 1 else ''}"
