"""Capability nodes: a node that says what it needs done, resolved to an agent at run time.

A node with ``capability: "translate Spanish to English"`` names no action.
When it starts, a ``CapabilityResolver`` picks one among the actions the run
can call; the decision, with every candidate the router scored, is recorded
as a ``route`` span under the node's span, and the chosen action serves the
node's call as if the node had named it.

The engine never imports a router (rooms import leftwards only: routing sits
to the right of the engine). It defines the small ``CapabilityResolver``
protocol, and ``RouterResolver`` adapts any ``weft.protocols.Router`` (the
interface ``CapabilityRouter`` implements) to it; callers that have a router
pass it in (``run_workflow(router=...)``, ``weft run``, the orchestrator).
A run with a capability node and no resolver is refused before anything
runs, naming the node; a router that finds no agent good enough ("no agent
fits") fails the node with the best candidates in the message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from weft.protocols import (
    Action,
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    CapabilityCard,
    DefinitionError,
    Router,
    RouteRequest,
    RoutingDecision,
    locate,
)
from weft.protocols.route_refusal import stage_refusal
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.compiled import PreparedWorkflow, single_parameter

#: The parameters a capability node is called with (``casting.node_arguments`` gives them).
CAPABILITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "task": {"description": "What to do."},
        "context": {"description": "The predecessors' artifacts, if any."},
    },
    "required": ["task"],  # a node without ``with`` passes its input on as the task
}


@dataclass
class Resolution:
    """Which action (by name) serves a capability, and the decision behind it."""

    action: str | None
    decision: RoutingDecision | None = None
    #: Why there is no action, when there is none.
    reason: str = ""
    #: Candidates passed over when chosen, by agent id: why each cannot be called
    #: (no trusted agent serves it: ``refusal_of``).
    skipped: dict[str, str] = field(default_factory=dict)


def refusal_of(action: Action) -> str | None:
    """Why ``action`` cannot be called now, when it says (``refusal()``), else None.

    A remote candidate of a capability node (``remote.candidates``) judges
    its agents' trust here, once the router has chosen it; other actions
    have no such method and are always callable.
    """
    refusal = getattr(action, "refusal", None)
    return refusal() if callable(refusal) else None


@runtime_checkable
class CapabilityResolver(Protocol):
    """Chooses the action that serves a capability node, among ``actions``."""

    async def resolve(
        self, capability: str, *, node: str, run_id: str, actions: ActionTable
    ) -> Resolution: ...


#: Why a capability node fails when the run can call no action at all.
NOTHING_TO_CHOOSE = (
    "no action to choose from: the run can call none (declare some under 'actions:' "
    "in the file, pass actions= to run_workflow, or serve agents on --broker)"
)


def card_of(name: str, spec: ActionSpec) -> CapabilityCard:
    """The action's own card, or one made from its name and description."""
    if spec.card is not None:
        return spec.card
    return CapabilityCard(agent_id=name, description=spec.description or name)


class RouterResolver:
    """A ``Router`` as a resolver: the run's actions are its candidates.

    The cards of the actions in the run's table are upserted into the router
    once per table (a router that already knows them, such as one fed by the
    live registry, keeps its versions); the chosen card's ``agent_id`` leads
    back to the action of that name, or whose card has that id. A router
    favourite the run cannot call gives way to the best candidate it can, and
    so does one that refuses when chosen (``refusal_of``: an agent on the
    broker that is not trusted); the skipped candidates are marked
    ``excluded`` in the decision and listed in ``Resolution.skipped``.
    ``exclude`` keeps actions out of the choice (the workflow's critics, say).
    """

    def __init__(self, router: Router, *, exclude: frozenset[str] = frozenset()) -> None:
        self.router = router
        self.exclude = exclude
        #: The table whose cards the router was last given (a new run's table syncs again).
        self._synced: ActionTable | None = None

    async def resolve(
        self, capability: str, *, node: str, run_id: str, actions: ActionTable
    ) -> Resolution:
        by_agent = await self._candidates(actions)
        if not by_agent:  # not "no agent fits": there is nothing to fit
            return Resolution(None, reason=NOTHING_TO_CHOOSE)
        request = RouteRequest(
            text=capability, capability=capability, run_id=run_id, subtask_id=node
        )
        decision = await self.router.route(request)
        if decision.chosen is None:
            return Resolution(None, decision, _no_fit(decision, self.router))
        favourite = decision.chosen.agent_id
        chosen, skipped = _first_callable(decision, by_agent, actions, self.router)
        if skipped:
            decision = _marked(decision, skipped, chosen, actions)
        if chosen is not None:
            return Resolution(chosen, decision, skipped=skipped)
        if skipped:
            refused = "; ".join(f"'{agent}' is {why}" for agent, why in skipped.items())
            reason = f"no agent fits that this run may call ({refused})"
        else:
            reason = (
                f"the router chose '{favourite}', which this run cannot call, "
                "and no other candidate it can"
            )
        return Resolution(None, decision, reason, skipped)

    async def _candidates(self, actions: ActionTable) -> dict[str, str]:
        """Agent id to action name, for every action that may be chosen."""
        by_agent: dict[str, str] = {}
        fresh = actions is not self._synced
        for name, action in actions.items():
            if name in self.exclude:
                continue
            card = card_of(name, action.spec)
            by_agent.setdefault(name, name)
            by_agent[card.agent_id] = name
            if fresh:
                await self.router.upsert(card)
        self._synced = actions
        return by_agent


def _first_callable(
    decision: RoutingDecision, by_agent: dict[str, str], actions: ActionTable, router: Router
) -> tuple[str | None, dict[str, str]]:
    """The action of the router's choice, else of its best candidate the run can call
    that does not refuse (and scores the router's minimum, if it has one); and the
    candidates that refused, by agent id, with why."""
    assert decision.chosen is not None
    floor = getattr(router, "min_score", None)
    usable = [
        c.agent_id
        for c in decision.candidates
        if c.excluded is None and (not isinstance(floor, float) or c.score >= floor)
    ]
    skipped: dict[str, str] = {}
    for agent_id in dict.fromkeys([decision.chosen.agent_id, *usable]):
        name = by_agent.get(agent_id)
        if name is None:
            continue
        why = refusal_of(actions.get(name))
        if why is None:
            return name, skipped
        skipped[agent_id] = why
    return None, skipped


def _marked(
    decision: RoutingDecision, skipped: dict[str, str], chosen: str | None, actions: ActionTable
) -> RoutingDecision:
    """``decision`` as it went: the refusing candidates ``excluded`` with why, and the
    action chosen instead (or none) as ``chosen``."""
    candidates = [
        c.model_copy(update={"excluded": f"refused when chosen: {skipped[c.agent_id]}"})
        if c.agent_id in skipped
        else c
        for c in decision.candidates
    ]
    card = card_of(chosen, actions.get(chosen).spec) if chosen is not None else None
    return decision.model_copy(update={"candidates": candidates, "chosen": card})


def _no_fit(decision: RoutingDecision, router: Router) -> str:
    best = [c for c in decision.candidates if c.excluded is None][:3]
    floor = getattr(router, "min_score", None)
    shown = ", ".join(f"{c.agent_id} {c.score:.2f}" for c in best) or "no candidates"
    refusal = stage_refusal(decision)
    if refusal is not None:
        return f"no agent fits (best: {shown}; {refusal})"
    if not isinstance(floor, float) or not best:
        return f"no agent fits (best: {shown})"
    if best[0].score < floor:
        return f"no agent fits (best: {shown} under the minimum score {floor:.2f})"
    return f"no agent fits (best: {shown}: a weak match level with the runner-up)"


class CapabilityAction:
    """The action of a capability node: resolve, trace the decision, call the chosen one."""

    uses_context = True

    def __init__(
        self,
        node: str,
        capability: str,
        resolver: CapabilityResolver | None = None,
        actions: ActionTable | None = None,
    ) -> None:
        self.node = node
        self.capability = capability
        self.resolver = resolver
        #: What it chooses among: the run's actions (``bind_resolver`` sets them).
        self.actions = actions if actions is not None else ActionTable()
        self._spec = ActionSpec(
            name=f"capability:{node}",
            kind=ActionKind.AGENT,
            description=capability,
            input_schema=CAPABILITY_SCHEMA,
        )

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    def bound(self, resolver: CapabilityResolver, actions: ActionTable) -> CapabilityAction:
        return CapabilityAction(self.node, self.capability, resolver, actions)

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        if self.resolver is None:
            return ActionResult.failure(call.call_id, "NoResolver", unresolved_message(self.node))
        actions = self.actions
        started = time.time()
        resolution = await self.resolver.resolve(
            self.capability, node=self.node, run_id=call.run_id or "", actions=actions
        )
        _trace(ctx, self, resolution, started)
        if resolution.action is None:
            return ActionResult.failure(
                call.call_id,
                "NoAgentFits",
                f"node '{self.node}', capability '{self.capability}': {resolution.reason}",
            )
        chosen = actions.get(resolution.action)
        arguments = fitted_arguments(chosen.spec, call.arguments)
        served = call.model_copy(update={"action": resolution.action, "arguments": arguments})
        return await chosen.invoke(served, ctx)


def fitted_arguments(spec: ActionSpec, arguments: dict[str, Any]) -> dict[str, Any]:
    """``{task, context?}`` as the chosen action takes them: as they are when it has a
    ``task`` parameter (or an open schema), else its one parameter gets the context (the
    predecessors' work) or, at a source, the task."""
    properties = spec.input_schema.get("properties") or {}
    if not properties or "task" in properties or set(arguments) - {"task", "context"}:
        return arguments
    param = single_parameter(spec.input_schema)
    if param is None:
        return arguments
    value = arguments.get("context", arguments.get("task"))
    return {param: value}


def _trace(
    ctx: ActionContext, action: CapabilityAction, resolution: Resolution, started: float
) -> None:
    """The decision as a ``route`` span under the node's span, and a progress event."""
    decision = resolution.decision
    candidates = [c.model_dump() for c in decision.candidates] if decision else []
    record = getattr(ctx, "record_span", None)
    if record is not None:
        record(
            {
                "name": f"route {action.node}",
                "kind": "route",
                "start": started,
                "end": time.time(),
                "status": "ok" if resolution.action else "error",
                "attributes": {
                    "weft.capability": action.capability,
                    "weft.action": resolution.action,
                    "weft.reason": resolution.reason or None,
                    "weft.skipped": dict(resolution.skipped) or None,
                    "candidates": candidates,
                },
            }
        )
    passed = "; ".join(f"skipped '{a}': {why}" for a, why in resolution.skipped.items())
    routed = f"routed to {resolution.action}" + (f" ({passed})" if passed else "")
    ctx.progress(
        routed if resolution.action else resolution.reason,
        capability=action.capability,
        chosen=resolution.action,
        candidates=[{"agent_id": c["agent_id"], "score": c["score"]} for c in candidates[:5]],
    )


def unresolved_message(node: str) -> str:
    return (
        f"node '{node}' names a capability, and this run has no router to resolve it: pass "
        "router= (or resolver=) to run_workflow, or run it with `weft run`, which routes "
        "among the actions the run can call"
    )


@runtime_checkable
class HoldsWorkflow(Protocol):
    """An action that runs a prepared workflow (a sub-workflow node's ``WorkflowAction``).

    A protocol, so this module needs not import the executor behind that action.
    """

    prepared: PreparedWorkflow

    def with_prepared(self, prepared: PreparedWorkflow) -> Action: ...


def capability_nodes(workflow: PreparedWorkflow) -> list[str]:
    return [n.name for n in workflow.nodes.values() if isinstance(n.action, CapabilityAction)]


def _subworkflows(workflow: PreparedWorkflow) -> dict[str, HoldsWorkflow]:
    """The nodes that run a sub-workflow with capability nodes somewhere inside."""
    return {
        n.name: n.action
        for n in workflow.nodes.values()
        if isinstance(n.action, HoldsWorkflow) and _needs_resolver(n.action.prepared)
    }


def _needs_resolver(workflow: PreparedWorkflow) -> bool:
    return bool(capability_nodes(workflow)) or bool(_subworkflows(workflow))


def bind_resolver(
    workflow: PreparedWorkflow,
    resolver: CapabilityResolver | None = None,
    *,
    router: Router | None = None,
    candidates: ActionTable | None = None,
) -> PreparedWorkflow:
    """``workflow`` whose capability nodes resolve with ``resolver`` (or ``router``, as a
    ``RouterResolver`` that leaves the workflow's critics out of the choice).

    Sub-workflow nodes get the same resolver, at any depth, so a capability
    node inside a sub-workflow is routed like one at the top, among the
    outermost run's actions (``candidates``; by default this workflow's). Raises
    ``DefinitionError`` naming each capability node (with its YAML line) when
    neither is given. A workflow without capability nodes is returned as is.
    """
    names = capability_nodes(workflow)
    subs = _subworkflows(workflow)
    if not names and not subs:
        return workflow
    if resolver is None and router is not None:
        critics = {e.critic for n in workflow.nodes.values() for e in n.incoming if e.critic}
        resolver = RouterResolver(router, exclude=frozenset(c for c in critics if c))
    if resolver is None and not names:  # only deeper down: the sub-workflow names its nodes
        for sub in subs.values():
            bind_resolver(sub.prepared)
    if resolver is None:
        spec = workflow.spec
        raise DefinitionError(
            [
                (unresolved_message(n), locate(spec.source, ("nodes", n, "capability"), node=n))
                for n in names
            ]
        )
    nodes = dict(workflow.nodes)
    table = candidates or workflow.registry
    for name, sub in subs.items():
        inner = bind_resolver(sub.prepared, resolver, candidates=table)
        nodes[name] = replace(nodes[name], action=sub.with_prepared(inner))
    for name in names:
        node = nodes[name]
        assert isinstance(node.action, CapabilityAction)
        rebound: Action = node.action.bound(resolver, table)
        nodes[name] = replace(node, action=rebound)
    return replace(workflow, nodes=nodes)
