"""Put any embedder's cosine similarities on the scale routing was calibrated on.

Every number in the router that compares a similarity with something — the
minimum score under which no agent fits, the weak-match band, the floor under
which a past subtask is too far away to teach anything about a new one — was
set with MiniLM, whose unrelated texts score about 0.08. Other models compress
their cosines into a band of their own: nomic-embed-text v1.5 scores unrelated
card documents about 0.58 and near-identical requests 0.9. With MiniLM's
constants such a model never says "no agent fits", and every past outcome
counts as a near neighbour of every new subtask, so a few corrections drag
unrelated subtasks to the corrected agent (top-1 after feedback fell from 0.77
to 0.55 on the project set; bench/RESULTS.md).

The fix is one affine map, applied where the router multiplies vectors:
``s' = REF + (s - b) * (1 - REF) / (1 - b)``, where ``b`` is the median
similarity between documents of *different* agents in the router's own index
(measured on a seeded sample, so it needs no labelled data) and ``REF`` is the
same median for MiniLM. It fixes 1 (identical texts) and moves "as similar as
two unrelated cards" to where MiniLM puts it; ranks within one query are
unchanged. Calibrated models (MiniLM) are left exactly as they are.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from weft.runtime.routing.capability_index import AgentVectors, CapabilityIndex
from weft.runtime.routing.embeddings.base import EmbeddingError

#: The model the routing constants were calibrated with, and its median
#: similarity between documents of different agents (0.071 on the project set's
#: 34 cards, 0.092 on the users' 28; bench/routing_sets.py).
REFERENCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
REFERENCE_BASELINE = 0.08

log = logging.getLogger(__name__)

#: Models whose similarities are left as they are: MiniLM (the reference) and
#: the hashing embedder, whose cosines measure shared words, not meaning, so no
#: calibration made for meaning can hold for it (it has no minimum score).
UNSCALED_PREFIXES = (REFERENCE_MODEL, "weft/hashing")

#: Documents of at least this many agents are needed before a baseline is
#: measured; with fewer the scale stays as the model gives it.
MIN_AGENTS = 4


@dataclass(frozen=True, slots=True)
class SimilarityScale:
    """The affine map from one model's cosine similarities to the reference scale."""

    baseline: float = REFERENCE_BASELINE

    @property
    def identity(self) -> bool:
        return self.baseline == REFERENCE_BASELINE

    def apply(self, sims: NDArray[np.float32]) -> NDArray[np.float32]:
        if self.identity:
            return sims
        stretch = (1.0 - REFERENCE_BASELINE) / (1.0 - self.baseline)
        mapped: NDArray[np.float32] = (
            REFERENCE_BASELINE + (sims - self.baseline) * stretch
        ).astype(np.float32, copy=False)
        return mapped

    def scores(self, rows: NDArray[np.float32], query: NDArray[np.float32]) -> NDArray[np.float32]:
        """``rows @ query`` on the reference scale. A row shorter than 1 is a document
        weighed down (a learned one, by its age): its cosine is mapped, then weighed, as
        MiniLM's would be; mapping the weighed product would punish age far more."""
        raw: NDArray[np.float32] = rows @ query
        if self.identity:
            return raw
        norms = np.maximum(np.linalg.norm(rows, axis=1), 1e-12).astype(np.float32)
        weighed: NDArray[np.float32] = self.apply(raw / norms) * norms
        return weighed

    def to_raw(self, value: float) -> float:
        """The model's own similarity that ``apply`` maps to ``value``."""
        if self.identity:
            return value
        stretch = (1.0 - REFERENCE_BASELINE) / (1.0 - self.baseline)
        return self.baseline + (value - REFERENCE_BASELINE) / stretch


IDENTITY = SimilarityScale()


def measure_baseline(
    vectors: Mapping[str, AgentVectors], *, pairs: int = 4000, seed: int = 0
) -> float | None:
    """Median cosine similarity of ``pairs`` random document pairs of different agents.

    None when fewer than ``MIN_AGENTS`` agents have documents: a baseline from
    two or three cards would say more about those cards than about the model.
    """
    blocks = [v.vectors for v in vectors.values() if len(v.vectors)]
    if len(blocks) < MIN_AGENTS:
        return None
    owners = np.concatenate([np.full(len(b), i) for i, b in enumerate(blocks)])
    matrix = np.concatenate(blocks)
    rng = np.random.default_rng(seed)
    left = rng.integers(0, len(matrix), size=pairs)
    right = rng.integers(0, len(matrix), size=pairs)
    apart = owners[left] != owners[right]
    if not apart.any():
        return None
    sims = np.einsum("ij,ij->i", matrix[left[apart]], matrix[right[apart]])
    return float(np.median(sims))


#: Sixteen unrelated capability descriptions: with fewer than ``MIN_AGENTS``
#: agents indexed, the baseline is read off them instead of the cards. MiniLM's
#: median similarity among them is 0.112 (above the cards' 0.08: they share one
#: sentence form), so a model's median over them maps onto the cards' scale
#: through the same affine relation (nomic-embed: 0.616 -> baseline 0.602,
#: against 0.578 / 0.595 measured on two card sets).
PROBES = (
    "Translates documents between languages.",
    "Reviews code changes and suggests improvements.",
    "Books flights and hotel rooms for business trips.",
    "Answers questions about the weather forecast.",
    "Fixes bugs in Python programs.",
    "Writes marketing copy for product launches.",
    "Calculates taxes owed on a salary.",
    "Schedules meetings on a shared calendar.",
    "Draws bar charts and line plots from tables.",
    "Checks whether claims in an article are true.",
    "Recommends recipes from the ingredients at hand.",
    "Monitors servers and alerts when they go down.",
    "Summarises long legal contracts.",
    "Tracks packages and delivery times.",
    "Plans workouts and counts calories.",
    "Sorts customer support tickets by urgency.",
)
PROBE_REFERENCE = 0.112


def probe_baseline(vectors: NDArray[np.float32]) -> float:
    """The card-scale baseline of a model, from its unit vectors of ``PROBES``."""
    sims = vectors @ vectors.T
    median = float(np.median(sims[np.triu_indices(len(vectors), 1)]))
    return median - (PROBE_REFERENCE - REFERENCE_BASELINE) * (1 - median) / (1 - PROBE_REFERENCE)


class ScaleKeeper:
    """The current ``SimilarityScale`` of a router's index, measured once and kept.

    A model's baseline is a property of the model far more than of the cards
    (0.071 and 0.092 for MiniLM on two unrelated sets; 0.578 and 0.595 for
    nomic-embed), so it is measured once enough agents are indexed and again
    only when the number of cards has grown fourfold since. Before that (two
    or three agents: a quickstart), it is read off ``PROBES``, embedded once.
    """

    def __init__(self, model_id: str, *, sample_agents: int = 64) -> None:
        self.fixed = model_id.startswith(UNSCALED_PREFIXES)
        self.sample_agents = sample_agents
        self._scale = IDENTITY
        self._measured_at = 0  # cards indexed when the baseline was measured; 0: not yet
        self._probed = False  # PROBES tried (once: a failing endpoint is not asked again)

    @property
    def measured(self) -> bool:
        """Whether similarities are mapped from a measured baseline."""
        return self._measured_at > 0 or not self._scale.identity

    def current(self, index: CapabilityIndex) -> SimilarityScale:
        """The scale for ``index`` as it is now (cheap: measures at most a few times)."""
        if self.fixed:
            return IDENTITY
        count = len(index)
        if self._measured_at and count < 4 * self._measured_at:
            return self._scale
        if count < MIN_AGENTS:
            return self._from_probes(index) if count else self._scale
        step = max(1, count // self.sample_agents)
        sample = itertools.islice(list(index.cards), 0, None, step)
        baseline = measure_baseline(
            index.agent_vectors(itertools.islice(sample, self.sample_agents))
        )
        if baseline is not None and baseline < 0.95:
            self._scale = SimilarityScale(baseline)
            self._measured_at = count
        return self._scale

    def _from_probes(self, index: CapabilityIndex) -> SimilarityScale:
        if self._probed:
            return self._scale
        self._probed = True
        try:
            vectors = index.embedder.embed(list(PROBES))
        except EmbeddingError as exc:  # a scale is an aid: routing goes on without it
            log.warning("similarity scale: could not embed the probe texts: %s", exc)
            return self._scale
        baseline = probe_baseline(vectors)
        if baseline < 0.95:
            self._scale = SimilarityScale(baseline)
        return self._scale
