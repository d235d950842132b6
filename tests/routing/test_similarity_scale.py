"""An embedder whose cosines live in a band of their own routes like MiniLM does.

``Compressed`` is MiniLM with a fixed direction added to every vector: the
ranking of any query's documents stays MiniLM's, but every similarity is
squeezed into about 0.6-1.0, as nomic-embed and many API models squeeze theirs.
Without ``similarity_scale`` such a model never said "no agent fits" (MiniLM's
minimum is for MiniLM alone) and one correction moved unrelated subtasks (every
past outcome was above the 0.55 neighbour floor).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from weft.protocols import CapabilityCard, RouteRequest
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import MiniLMEmbedder
from weft.runtime.routing.embeddings.base import Vectors, normalise
from weft.runtime.routing.similarity_scale import (
    REFERENCE_BASELINE,
    SimilarityScale,
    measure_baseline,
)

LIFT = 1.2  # cos' ~ (cos + LIFT^2) / (1 + LIFT^2): unrelated texts ~0.62


class Compressed:
    """MiniLM plus ``LIFT`` times one fixed unit direction, renormalised."""

    model_id = "test/compressed-minilm"

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        direction = np.random.default_rng(7).standard_normal(inner.dimension)
        self.direction = (direction / np.linalg.norm(direction)).astype(np.float32)

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        return normalise(self.inner.embed(texts) + LIFT * self.direction)

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        return self.embed(texts)


def _router(embedder: object, cards: list[CapabilityCard]) -> CapabilityRouter:
    router = CapabilityRouter.open(embedder)  # type: ignore[arg-type]
    router.add_cards(cards)
    return router


def test_the_map_fixes_identity_and_moves_the_baseline_to_minilm_s() -> None:
    scale = SimilarityScale(0.6)
    sims = np.asarray([1.0, 0.6, 0.8], dtype=np.float32)
    mapped = scale.apply(sims)
    assert mapped[0] == pytest.approx(1.0) and mapped[1] == pytest.approx(REFERENCE_BASELINE)
    assert scale.to_raw(float(mapped[2])) == pytest.approx(0.8)
    assert SimilarityScale().apply(sims) is sims  # MiniLM's own scale: untouched


def test_a_document_weighed_down_by_age_is_mapped_then_weighed() -> None:
    scale = SimilarityScale(0.6)
    query = np.asarray([1.0, 0.0], dtype=np.float32)
    fresh = np.asarray([0.8, 0.6], dtype=np.float32)  # cosine 0.8 with the query
    rows = np.stack([fresh, 0.5 * fresh])  # the same document, half-decayed
    got = scale.scores(rows, query)
    mapped = float(scale.apply(np.asarray([0.8], dtype=np.float32))[0])
    assert got[0] == pytest.approx(mapped) and got[1] == pytest.approx(0.5 * mapped)
    assert SimilarityScale().scores(rows, query) == pytest.approx(rows @ query)


def test_the_baseline_is_measured_on_the_index_s_own_cards(
    minilm: MiniLMEmbedder, labelled_cards: list[CapabilityCard]
) -> None:
    plain = _router(minilm, labelled_cards)
    squeezed = _router(Compressed(minilm), labelled_cards)
    try:
        ids = [c.agent_id for c in labelled_cards]
        base = measure_baseline(plain.index.agent_vectors(ids))
        lifted = measure_baseline(squeezed.index.agent_vectors(ids))
        assert base is not None and lifted is not None
        assert abs(base - REFERENCE_BASELINE) < 0.04
        assert lifted > 0.5  # the band the compressed model lives in
        assert measure_baseline(plain.index.agent_vectors(ids[:3])) is None  # too few agents
    finally:
        plain.close()
        squeezed.close()


async def test_a_compressed_model_decides_as_minilm_does(
    minilm: MiniLMEmbedder,
    labelled_cards: list[CapabilityCard],
    labelled_subtasks: list[dict[str, str]],
) -> None:
    texts = [s["text"] for s in labelled_subtasks] + [
        "Walk my dog at 6pm.",
        "Drive me to the airport tomorrow morning.",
        "Water the plants on the balcony.",
    ]
    decided: list[list[str | None]] = []
    for embedder in (minilm, Compressed(minilm)):
        router = _router(embedder, labelled_cards)
        try:
            decisions = await router.route_many(RouteRequest(text=t) for t in texts)
            decided.append([d.chosen.agent_id if d.chosen else None for d in decisions])
        finally:
            router.close()
    plain, squeezed = decided
    same = sum(a == b for a, b in zip(plain, squeezed, strict=True))
    assert same >= 0.9 * len(texts), list(zip(texts, plain, squeezed, strict=True))
    # "No agent fits" survives the squeeze (without the scale it never happened).
    assert plain.count(None) >= 1
    assert squeezed.count(None) >= plain.count(None) - 1


async def test_a_correction_moves_only_similar_subtasks_with_a_compressed_model(
    minilm: MiniLMEmbedder,
    labelled_cards: list[CapabilityCard],
    labelled_subtasks: list[dict[str, str]],
) -> None:
    router = _router(Compressed(minilm), labelled_cards)
    texts = [s["text"] for s in labelled_subtasks if s["agent"] != "translator"]
    try:
        before = await router.route_many(RouteRequest(text=t) for t in texts)
        for taught in (
            "Turn this French paragraph into English.",
            "Render the Spanish menu in German.",
            "Put the Japanese release notes into English.",
            "Translate the Italian contract into English.",
        ):
            await router.record_outcome(RouteRequest(text=taught), "translator", True)
        after = await router.route_many(RouteRequest(text=t) for t in texts)
        moved = [
            t
            for t, b, a in zip(texts, before, after, strict=True)
            if (a.chosen and a.chosen.agent_id) == "translator"
            and (b.chosen and b.chosen.agent_id) != "translator"
        ]
        # Without the scale, 4 corrections sent 201 of 247 subtasks to the translator.
        assert len(moved) <= 0.02 * len(texts), moved
        similar = await router.route(
            RouteRequest(text="Put the Korean release notes into English.")
        )
        assert similar.chosen is not None and similar.chosen.agent_id == "translator"
    finally:
        router.close()


async def test_with_two_agents_the_scale_comes_from_the_probe_texts(
    minilm: MiniLMEmbedder,
) -> None:
    """Too few cards to measure on (a quickstart's two tools): the probe texts give the
    baseline, so a request no agent fits is still refused with a compressed model."""
    cards = [
        CapabilityCard(agent_id="research", description="Research facts about a topic."),
        CapabilityCard(agent_id="total", description="Add the counts up."),
    ]
    for embedder in (minilm, Compressed(minilm)):
        router = _router(embedder, cards)
        try:
            walk = await router.route(RouteRequest(text="Walk my dog at 6pm."))
            add = await router.route(RouteRequest(text="Add up 3, 4 and 5"))
        finally:
            router.close()
        assert walk.chosen is None, (embedder.model_id, walk.candidates)
        assert add.chosen is not None and add.chosen.agent_id == "total"


def test_the_probe_baseline_of_minilm_is_the_cards_one(minilm: MiniLMEmbedder) -> None:
    from weft.runtime.routing.similarity_scale import PROBES, probe_baseline

    assert probe_baseline(minilm.embed(list(PROBES))) == pytest.approx(REFERENCE_BASELINE, abs=0.01)
    squeezed = probe_baseline(Compressed(minilm).embed(list(PROBES)))
    assert squeezed > 0.5
