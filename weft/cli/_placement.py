"""Where each node of a run ran: in this process, or on which agents.

The engine's finished-call events carry the action and, for a call an agent
answered, the agent's id (``ActionResult.agent``). A run with remote actions
listens to them; a run without any needs no events at all, since every node
it ran ran here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from weft.protocols import EventKind, NodeState, RunEvent

#: Shown for a node whose action is remote but no agent answered (a timeout,
#: no agent serving it): it ran nowhere, and its error line says why.
UNANSWERED = "remote, no agent answered"


class Placements:
    """Collects, per top-level node, its action and the agents that answered its calls.

    ``remote`` names the actions that agents serve in this run. Attach
    ``on_event`` as a run listener only when ``remote`` is not empty.
    """

    def __init__(self, remote: Iterable[str] = ()) -> None:
        self.remote = set(remote)
        self.actions: dict[str, str] = {}
        self.agents: dict[str, Counter[str]] = {}

    def on_event(self, event: RunEvent) -> None:
        node = event.node
        if event.kind is not EventKind.NODE_FINISHED or not node or "/" in node:
            return  # nodes of sub-workflows run their actions locally
        data = event.data
        action = data.get("action")
        if action:
            self.actions[node] = str(action)
        agent = data.get("agent")
        if agent:
            self.agents.setdefault(node, Counter())[str(agent)] += 1

    def agents_of(self, name: str) -> list[str]:
        """The agents that answered the node's calls, most calls first."""
        return [agent for agent, _ in self.agents.get(name, Counter()).most_common()]

    def where(self, outcome: Any) -> str:
        """``local``, ``agent ID``, ``agents A (3 calls), B (2 calls)``, ``remote, no agent
        answered``, or empty for a node that made no call (skipped, from the journal)."""
        if outcome.cached or outcome.state is NodeState.SKIPPED or not outcome.attempts:
            return ""
        counts = self.agents.get(outcome.name)
        if counts:
            if len(counts) == 1:
                return f"agent {next(iter(counts))}"
            calls = (f"{a} ({n} call{'s' if n > 1 else ''})" for a, n in counts.most_common())
            return "agents " + ", ".join(calls)
        if self.actions.get(outcome.name) in self.remote:
            return UNANSWERED
        return "local"
