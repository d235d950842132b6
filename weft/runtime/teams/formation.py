"""Team formation: members picked through a router by capability, with replacement pools.

IoA's agents find teammates through a registry. Here each wanted capability
is routed like a subtask (``Router.route``, the capability router or any
other); the winner takes the seat and the next candidates that passed the
router's filters with a score it would accept (above zero and its
``min_score``) become its pool, so a member that dies is replaced by the
next best agent for the same capability. An agent already seated is not
seated (nor kept as a spare) again. ``actions`` maps an agent id to the action that reaches it
(a ``LiveRegistry``'s ``remote``, a dict of local actions); an id it does
not know is called by name through the run's registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from weft.protocols import Action
from weft.protocols.routing import Router, RouteRequest
from weft.runtime.teams.member import TeamMember


@dataclass
class Formation:
    """One seat per capability, chosen by ``router``; ``pool_size`` spares behind each."""

    router: Router
    capabilities: Sequence[str]
    actions: Mapping[str, Action] | Callable[[str], Action | None] = field(default_factory=dict)
    pool_size: int = 2

    def _action(self, agent_id: str) -> Action | str:
        found = self.actions(agent_id) if callable(self.actions) else self.actions.get(agent_id)
        return found if found is not None else agent_id

    def _floor(self) -> float:
        """The lowest score a spare may have: the router's own ``min_score`` if it has one."""
        floor = getattr(self.router, "min_score", 0.0)
        return float(floor() if callable(floor) else floor)

    async def form(self) -> list[TeamMember]:
        """The seats, in the order of ``capabilities``; a capability no agent fits gets none."""
        seats: list[TeamMember] = []
        seated: set[str] = set()
        for capability in self.capabilities:
            decision = await self.router.route(
                RouteRequest(text=capability, capability=capability, k=self.pool_size + 1)
            )
            ranked = [
                c.agent_id
                for c in decision.candidates
                if c.excluded is None and c.score > 0 and c.score >= self._floor()
            ]
            if decision.chosen is not None and decision.chosen.agent_id in ranked:
                ranked.remove(decision.chosen.agent_id)
                ranked.insert(0, decision.chosen.agent_id)
            elif decision.chosen is None:
                ranked = []
            free = [agent for agent in ranked if agent not in seated]
            if not free:
                continue
            seated.add(free[0])
            first, *spares = (self._action(agent) for agent in free[: self.pool_size + 1])
            seats.append(TeamMember.of(first, pool=list(spares)))
        return seats
