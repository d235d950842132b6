"""The routing score's weights, its calibrated minimum, and per-agent similarity terms.

Split from ``capability_router`` so that the router module stays small; the
router re-exports ``ScoringWeights`` and ``CALIBRATED_MIN_SCORE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from weft.protocols import CapabilityCard
from weft.runtime.routing.capability_index import AgentVectors
from weft.runtime.routing.outcome_memory import SuccessEstimate
from weft.runtime.routing.similarity_scale import REFERENCE_MODEL


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """The weights of the routing score; see the module docstring for the formula.

    The defaults put semantic similarity first, exact words second and the
    operational factors (cost, load) last, so they break near ties rather
    than overrule a clearly better match. Past success can overrule a close
    call, not a clear one: its term is at most ``success / 2``.
    """

    best: float = 1.0
    """Similarity of the closest positive document."""
    mean: float = 1.0
    """Mean similarity of the ``top_docs`` closest positive documents."""
    top_docs: int = 3
    lexical: float = 1.0
    """BM25 over description, skills and examples, scaled to 0..1."""
    not_skill: float = 1.0
    """Penalty per unit by which a not-skill out-matches the best document."""
    not_margin: float = 0.05
    """A not-skill within this much below the best document already counts."""
    capability: float = 1.0
    """Weight of the planner's capability phrase in the query vector (text = 1)."""
    cost: float = 0.05
    cost_ref: float = 0.01
    """USD per call at which the cost term is half its weight."""
    load: float = 0.1
    success: float = 1.0
    """Weight of ``tanh(evidence / success_scale)`` from similar past outcomes (-1..1)."""
    success_scale: float = 0.1
    operation: float = 0.25
    """Bonus for a card that claims the subtask's operation (its imperative verbs)."""
    disclaimed: float = 0.25
    """Penalty for a card that says it does not do the subtask's operation ("does not
    translate"): the card's own word against it."""
    instruction: float = 0.5
    """Share of the similarity terms taken from the subtask's imperative clauses alone
    (``instruction.instruction_text``) when it has context around them; 0: whole text only."""
    learned: float = 0.7
    """Scale of the learned documents (outcomes as examples and not-skills of the
    agent's card, ``OutcomeMemory.learned``) against the card's own; 0: not used.
    At 1.0 a past subtask outweighs what the card says and the project set lost
    3-6 points across halves; at 0.7 neither set lost top-1 over both halves and
    recurring requests went from 0.875 to 0.929 (bench/RESULTS.md)."""
    min_score: float | None = None
    """Below this score the decision is "no agent fits" (``chosen`` None); None: the
    embedder's calibrated minimum (``CALIBRATED_MIN_SCORE``), or no minimum if it has none."""
    weak_score: float | None = None
    """A best score under this is a weak match: it is chosen only when it leads the
    runner-up by ``weak_margin`` or more, else no agent fits. None: the embedder's
    calibration (``CALIBRATED_WEAK_MATCH``) when ``min_score`` is None too, else no band."""
    weak_margin: float = 0.05
    """How far a weak match must lead the runner-up (see ``weak_score``)."""


#: Minimum scores calibrated per embedding model, with the weak-match band
#: (``CALIBRATED_WEAK_MATCH``). MiniLM, on both labelled sets routed from the
#: text alone (359 subtasks some card fits, 20 that none does;
#: bench/routing_sets.py): no score threshold separates them cleanly ("walk the
#: dog" scores like a vague fitting request); a single minimum of 0.46 caught
#: half the no-fit subtasks and cost 2.0% / 2.7% of the fitting ones. What tells
#: them apart better is whether the best stands out: a no-fit subtask's best
#: scores about like its runner-up (margins 0.00-0.09), while a fitting request
#: with a low score usually has a clear winner. Floor 0.43, and under 0.50 a lead
#: of 0.05 over the runner-up, chosen on the project set (0.737 -> 0.745 top-1,
#: fitting -> none 2.0% -> 0.8%, no-fit -> none unchanged at 0.5) and checked on
#: the users' set (0.795 -> 0.812, 2.7% -> 0.9%, 0.5 unchanged).
CALIBRATED_MIN_SCORE: dict[str, float] = {"sentence-transformers/all-MiniLM-L6-v2": 0.43}
#: ``(weak_score, weak_margin)`` per embedding model; see ``CALIBRATED_MIN_SCORE``.
CALIBRATED_WEAK_MATCH: dict[str, tuple[float, float]] = {
    "sentence-transformers/all-MiniLM-L6-v2": (0.50, 0.05)
}


def no_fit_rule(
    weights: ScoringWeights, model_id: str, *, rescaled: bool = False
) -> tuple[float, float, float]:
    """``(min_score, weak_score, weak_margin)`` for an embedder: the weights' own, else
    the calibration; an explicit ``min_score`` alone turns the weak-match band off.
    ``rescaled``: the model's similarities are mapped onto MiniLM's scale
    (``similarity_scale``), so MiniLM's calibration holds for it."""
    if rescaled and model_id not in CALIBRATED_MIN_SCORE:
        model_id = REFERENCE_MODEL
    floor = weights.min_score
    if floor is None:
        floor = CALIBRATED_MIN_SCORE.get(model_id, -math.inf)
    if weights.weak_score is not None:
        return floor, weights.weak_score, weights.weak_margin
    if weights.min_score is None:
        return (floor, *CALIBRATED_WEAK_MATCH.get(model_id, (-math.inf, 0.0)))
    return floor, -math.inf, 0.0


@dataclass(slots=True)
class Scored:
    agent_id: str
    card: CapabilityCard
    score: float
    best: float
    lexical: float
    load: float
    success: SuccessEstimate | None
    parts: dict[str, float]
    evidence: str | None
    excluded: str | None


@dataclass(slots=True)
class Views:
    """A request's query vectors: whole text (+ capability phrase), and its instruction."""

    vector: NDArray[np.float32]
    instruction: NDArray[np.float32] | None = None


def similarity(
    sims: NDArray[np.float32], kinds: tuple[str, ...], w: ScoringWeights
) -> tuple[float, int, float, float, int]:
    """(best, its index, mean of the top docs, not-skill gap, its index) for one agent.

    The gap is how far the closest not-skill comes within ``w.not_margin`` of,
    or above, the best positive document (0 when it does not).
    """
    listed = sims.tolist()
    positive = [(x, i) for i, x in enumerate(listed) if kinds[i] != "not"]
    negative = [(x, i) for i, x in enumerate(listed) if kinds[i] == "not"]
    positive.sort(reverse=True)
    best, best_i = positive[0] if positive else (0.0, 0)
    top = positive[: w.top_docs]
    mean_top = sum(s for s, _ in top) / len(top) if top else 0.0
    not_sim, not_i = max(negative) if negative else (-1.0, -1)
    return best, best_i, mean_top, max(0.0, not_sim - best + w.not_margin), not_i


def with_learned(
    blocks: dict[str, AgentVectors], learned: dict[str, AgentVectors], scale: float
) -> dict[str, AgentVectors]:
    """Each agent's card documents followed by its learned ones (vectors times ``scale``)."""
    out = dict(blocks)
    for agent, extra in learned.items():
        own = blocks.get(agent)
        if own is None:
            continue
        out[agent] = AgentVectors(
            kinds=own.kinds + extra.kinds,
            texts=own.texts + extra.texts,
            vectors=np.concatenate([own.vectors, extra.vectors * np.float32(scale)]),
        )
    return out
