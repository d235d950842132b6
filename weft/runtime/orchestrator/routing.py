"""From a subtask to an action name, through any ``Router``.

Routers speak capability cards (agent ids); workflows speak action names.
This adapter keeps the map between the two: an action's card ``agent_id``
(or its name, for actions without a card) leads back to the action. When the
router's favourite is not among the available actions (a router that also
knows agents of other processes), the best available candidate is taken and
the decision still shows the whole ranking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from weft.protocols import (
    ActionSpec,
    CapabilityCard,
    NodeState,
    Router,
    RouteRequest,
    RoutingDecision,
)
from weft.runtime.engine.capability import card_of
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.orchestrator.plan import Subtask


def card_for(spec: ActionSpec) -> CapabilityCard:
    """The action's own card, or one made from its name and description."""
    return card_of(spec.name, spec)


@dataclass
class RouteChoice:
    """The action chosen for one subtask (None: nobody qualifies) and the router's decision."""

    subtask: str
    action: str | None
    decision: RoutingDecision


class SubtaskRouter:
    """Routes subtasks to the actions in ``specs`` with ``router``."""

    def __init__(
        self,
        router: Router,
        specs: Mapping[str, ActionSpec],
        *,
        max_cost_per_call: float | None = None,
        required_tags: list[str] | None = None,
    ) -> None:
        self.router = router
        self.specs = dict(specs)
        self.max_cost_per_call = max_cost_per_call
        self.required_tags = list(required_tags or [])
        self._by_agent: dict[str, str] = {}
        for name, spec in self.specs.items():
            self._by_agent.setdefault(name, name)
            self._by_agent[card_for(spec).agent_id] = name

    async def sync(self) -> None:
        """Tell the router about every available action's card (newer versions win)."""
        for spec in self.specs.values():
            await self.router.upsert(card_for(spec))

    def request_for(self, subtask: Subtask) -> RouteRequest:
        return RouteRequest(
            text=subtask.description,
            capability=subtask.capability,
            required_tags=self.required_tags,
            max_cost=self.max_cost_per_call,
        )

    async def route(self, subtask: Subtask) -> RouteChoice:
        decision = await self.router.route(self.request_for(subtask))
        if decision.chosen is None:
            return RouteChoice(subtask=subtask.id, action=None, decision=decision)
        action = self._by_agent.get(decision.chosen.agent_id)
        if action is None:
            for candidate in decision.candidates:
                if candidate.excluded is None and candidate.agent_id in self._by_agent:
                    action = self._by_agent[candidate.agent_id]
                    break
        return RouteChoice(subtask=subtask.id, action=action, decision=decision)

    def card_of(self, action: str) -> CapabilityCard:
        return card_for(self.specs[action])


#: Node states that say how an agent did: a question to a person (``needs_input``),
#: a cancelled or skipped node say nothing about the agent, so they teach nothing.
TAUGHT_STATES = frozenset({NodeState.SUCCEEDED, NodeState.FAILED})


async def teach_router(
    router: Router, choices: Iterable[RouteChoice], result: RunResult, *, resumed: bool = False
) -> None:
    """Tell ``router`` how each routed subtask of ``result`` went (its learning from outcomes).

    Only subtasks that succeeded or failed count. For a ``resumed`` run, only
    the subtasks that ran in it: those served from the journal were counted
    when they ran, and a subtask that failed and now succeeded (its cause
    fixed, or its question answered) has shown that its agent does the job.
    """
    for choice in choices:
        outcome = result.nodes.get(choice.subtask)
        chosen = choice.decision.chosen
        if outcome is None or chosen is None or outcome.state not in TAUGHT_STATES:
            continue
        if resumed and outcome.cached:
            continue
        await router.record_outcome(
            choice.decision.request, chosen.agent_id, outcome.state is NodeState.SUCCEEDED
        )
