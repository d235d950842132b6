"""The agents a capability node may be routed to, their trust judged only when chosen.

A workflow node that names a ``capability:`` may be served by any action an
agent on the broker serves, so every served action is a candidate for the
router. Judging every candidate's card up front (an Ed25519 check each, and
a warning for each untrusted one) warned about agents the router never
chose. ``candidate_actions`` makes the candidates from the cards as they
are, unjudged; ``CandidateAction.refusal`` judges the agents of one action
when the router has chosen it (``engine.capability.RouterResolver``), which
skips an action no trusted agent serves for the router's next choice and
records why in the ``route`` span. A call still goes only to a trusted agent
(``LiveRegistry.serving``), whatever chose it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from weft.protocols import ActionSpec
from weft.runtime.remote.remote_action import RemoteAction

if TYPE_CHECKING:
    from weft.runtime.remote.live_registry import LiveRegistry

__all__ = ["CandidateAction", "candidate_actions"]


class CandidateAction(RemoteAction):
    """A remote action a router may choose; see the module docstring."""

    registry: LiveRegistry

    def refusal(self) -> str | None:
        """Why the action cannot be called now, or None: a trusted agent serves it.

        Judges the cards of the agents claiming it (the first time: the
        registry keeps the verdict, and warns once about an untrusted agent)."""
        registry = self.registry
        if registry.serving(self.name):
            return None
        untrusted = registry.untrusted(self.name)
        if not untrusted:
            return "no agent serves it now"
        notes = "; ".join(f"agent '{a.agent_id}': {a.trust.note}" for a in untrusted)
        return f"not trusted ({notes})"


def candidate_actions(
    registry: LiveRegistry, exclude: Iterable[str] = ()
) -> dict[str, CandidateAction]:
    """A ``CandidateAction`` for every action a serving agent's card lists, by name
    (``exclude`` left out: the run has those already). No card is judged here.

    Each spec is the one the most recently started claiming agent describes,
    as ``LiveRegistry.spec`` picks among trusted agents.
    """
    skip = set(exclude)
    newest: dict[str, tuple[float, ActionSpec]] = {}
    for info in registry.agents():
        if not info.serving:
            continue
        for spec in info.card.actions:
            if spec.name in skip:
                continue
            known = newest.get(spec.name)
            if known is None or info.card.started_at >= known[0]:
                newest[spec.name] = (info.card.started_at, spec)
    found: dict[str, CandidateAction] = {}
    for name, (_, spec) in sorted(newest.items()):
        found[name] = CandidateAction(
            registry.client,
            spec,
            registry=registry,
            default_timeout=registry.default_timeout,
            ack_timeout=registry.ack_timeout,
            gone_grace=registry.gone_grace,
        )
    return found
