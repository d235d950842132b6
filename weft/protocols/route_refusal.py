"""Why a stage after the embedding scores answered "no agent fits", in one line.

The embedding stage refuses by score (under the calibrated minimum, or a weak
match level with the runner-up); the stages after it can refuse too: the LLM
chooser when the model picks none of the top cards (``parts["llm"] == 0`` on
the first candidate), the likelihood stage when the best card makes the
subtask no more likely than a card-less prompt does (``parts["null_gain"]``
under its minimum, see ``likelihood.chooser``). ``weft route``, capability
nodes and the orchestrator all explain a refusal with ``stage_refusal`` first,
so the three say the same thing.
"""

from __future__ import annotations

from weft.protocols import RoutingDecision

#: The part a likelihood-stage refusal leaves on the first candidate: mean log-likelihood
#: of the subtask after the card's prompt minus after the card-less one.
NULL_GAIN = "null_gain"


def stage_refusal(decision: RoutingDecision) -> str | None:
    """The reason a later stage refused ``decision``'s best candidate, or None when none did."""
    if decision.chosen is not None:
        return None
    eligible = [c for c in decision.candidates if c.excluded is None]
    if not eligible:
        return None
    first = eligible[0]
    if first.parts.get("llm") == 0.0:
        return "the model picked none of the top candidates"
    gain = first.parts.get(NULL_GAIN)
    if gain is not None:
        return (
            f"the best card ({first.agent_id}) makes the request no more likely than "
            f"no card does (likelihood gain {gain:+.2f})"
        )
    return None
