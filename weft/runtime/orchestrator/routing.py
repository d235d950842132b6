"""From a subtask to an action name, through any ``Router``.

Routers speak capability cards (agent ids); workflows speak action names.
This adapter keeps the map between the two: an action's card ``agent_id``
(or its name, for actions without a card) leads back to the action. When the
router's favourite is not among the available actions (a router that also
knows agents of other processes), the best available candidate is taken and
the decision still shows the whole ranking. So is the router's choice when
its action refuses once chosen (``refusal``: an agent on the broker no
trusted key signed, ``weft.runtime.remote.candidates``): its agents are
judged only then, so an untrusted agent the router never chooses is never
warned about, and a chosen one is skipped for the next candidate, marked
``excluded`` in the decision and listed in ``RouteChoice.skipped``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from weft.protocols import (
    ActionSpec,
    CapabilityCard,
    NodeState,
    Router,
    RouteRequest,
    RoutingDecision,
)
from weft.protocols.route_refusal import stage_refusal
from weft.runtime.engine.capability import card_of
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.orchestrator.plan import Subtask


def card_for(spec: ActionSpec) -> CapabilityCard:
    """The action's own card, or one made from its name and description."""
    return card_of(spec.name, spec)


@dataclass
class RouteChoice:
    """The action chosen for one subtask (None: nobody qualifies) and the router's decision.

    ``started`` and ``ended`` are the wall-clock times the routing took place
    (0.0 when unknown: a choice read back from the journal): subtasks are
    routed concurrently, so the trace needs each one's own times.
    """

    subtask: str
    action: str | None
    decision: RoutingDecision
    started: float = 0.0
    ended: float = 0.0
    #: Candidates passed over when chosen, by agent id: why each cannot be called.
    skipped: dict[str, str] = field(default_factory=dict)


class SubtaskRouter:
    """Routes subtasks to the actions in ``specs`` with ``router``.

    ``refusal`` says, by action name, why an action cannot be called now (None:
    it can); it is asked only about the actions the router chooses.
    """

    def __init__(
        self,
        router: Router,
        specs: Mapping[str, ActionSpec],
        *,
        max_cost_per_call: float | None = None,
        required_tags: list[str] | None = None,
        refusal: Callable[[str], str | None] | None = None,
    ) -> None:
        self.router = router
        self.specs = dict(specs)
        self.refusal = refusal
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
        started = time.time()
        decision = await self.router.route(self.request_for(subtask))
        ended = time.time()
        action, skipped = self._first_callable(decision)
        if skipped:
            decision = self._marked(decision, skipped, action)
        return RouteChoice(subtask.id, action, decision, started, ended, skipped)

    def _first_callable(self, decision: RoutingDecision) -> tuple[str | None, dict[str, str]]:
        """The action of the router's choice, else of its best candidate at hand that does
        not refuse; and the candidates that refused, by agent id, with why."""
        if decision.chosen is None:
            return None, {}
        usable = [c.agent_id for c in decision.candidates if c.excluded is None]
        skipped: dict[str, str] = {}
        for agent_id in dict.fromkeys([decision.chosen.agent_id, *usable]):
            action = self._by_agent.get(agent_id)
            if action is None:
                continue
            why = self.refusal(action) if self.refusal is not None else None
            if why is None:
                return action, skipped
            skipped[agent_id] = why
        return None, skipped

    def _marked(
        self, decision: RoutingDecision, skipped: dict[str, str], action: str | None
    ) -> RoutingDecision:
        """``decision`` as it went: the refusing candidates ``excluded`` with why, and the
        card of the action taken instead (or none) as ``chosen``."""
        candidates = [
            c.model_copy(update={"excluded": f"refused when chosen: {skipped[c.agent_id]}"})
            if c.agent_id in skipped
            else c
            for c in decision.candidates
        ]
        chosen = self.card_of(action) if action is not None else None
        return decision.model_copy(update={"candidates": candidates, "chosen": chosen})

    def card_of(self, action: str) -> CapabilityCard:
        return card_for(self.specs[action])


def unrouted_problem(subtask: Subtask, choice: RouteChoice, router: Router | None = None) -> str:
    """Why ``subtask`` found no agent, in one line a planner (and a user) can act on.

    Names the subtask by id and text, the capability asked for, and the router's
    reason: no agents, all excluded (with each one's reason), the best matches
    too weak (with their scores, and ``router.min_score`` when it has one), or a
    choice outside the actions at hand.
    """
    text = subtask.description
    if len(text) > 80:
        text = text[:77] + "..."
    head = f"no agent fits subtask {subtask.id} {text!r} (capability {subtask.capability!r})"
    decision = choice.decision
    eligible = [c for c in decision.candidates if c.excluded is None]
    if not decision.candidates:
        why = "the router knows no agent"
    elif not eligible:
        why = "every agent was excluded: " + ", ".join(
            f"{c.agent_id} ({c.excluded})" for c in decision.candidates
        )
    elif decision.chosen is not None:
        why = f"the router chose {decision.chosen.agent_id!r}, which is not among them"
    else:
        best = ", ".join(f"{c.agent_id} {c.score:.2f}" for c in eligible[:3])
        floor = getattr(router, "min_score", None)
        refusal = stage_refusal(decision)
        if refusal is not None:
            why = f"best: {best}; {refusal}"
        elif not isinstance(floor, float):
            why = f"no agent matches it (best: {best})"
        elif eligible[0].score < floor:
            why = f"best: {best}, under the minimum score {floor:.2f}"
        else:
            why = f"best: {best}, a weak match level with the runner-up"
    return f"{head}: {why}"


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
