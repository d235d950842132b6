"""The Chroma-backed capability index: documents per card, versions, model checks, HNSW settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from weft.runtime.routing.capability_index import CapabilityIndex, card_documents
from weft.runtime.routing.chroma_store import DIMENSION_KEY, MODEL_KEY, HnswParams, hnsw_settings
from weft.runtime.routing.embeddings import EmbeddingMismatchError, HashingEmbedder

from .conftest import card

REVIEWER = card(
    "reviewer",
    "Reviews pull requests.",
    skills=["comment on a diff", "judge naming"],
    examples=["Look at PR 12."],
    not_skills=["writing tests"],
)


def test_a_card_is_indexed_as_whole_text_skills_examples_and_not_skills() -> None:
    kinds = [d.kind for d in card_documents(REVIEWER)]
    assert kinds == ["card", "skill", "skill", "example", "not"]
    index = CapabilityIndex(HashingEmbedder())
    try:
        assert index.upsert(REVIEWER) == "added"
        assert index.document_count == 5
        vectors = index.agent_vectors(["reviewer"])["reviewer"]
        assert vectors.kinds == tuple(kinds)
        np.testing.assert_allclose(np.linalg.norm(vectors.vectors, axis=1), 1.0, atol=1e-6)
    finally:
        index.close()


def test_collection_records_the_embedding_model_and_dimension(tmp_path: Path) -> None:
    index = CapabilityIndex(HashingEmbedder(64), path=tmp_path)
    metadata = index.client.get_collection(index.collection_name).metadata
    assert metadata[MODEL_KEY] == "weft/hashing-64"
    assert metadata[DIMENSION_KEY] == 64


def test_reopening_with_another_embedding_model_is_refused(tmp_path: Path) -> None:
    CapabilityIndex(HashingEmbedder(64), path=tmp_path).upsert(REVIEWER)
    with pytest.raises(EmbeddingMismatchError) as info:
        CapabilityIndex(HashingEmbedder(32), path=tmp_path)
    message = str(info.value)
    assert "weft/hashing-64" in message and "weft/hashing-32" in message
    assert "weft-capabilities" in message


def test_hnsw_search_breadth_is_set_explicitly(tmp_path: Path) -> None:
    CapabilityIndex(HashingEmbedder(), path=tmp_path, hnsw=HnswParams(ef_search=123))
    reopened = CapabilityIndex(HashingEmbedder(), path=tmp_path, hnsw=HnswParams(ef_search=321))
    hnsw = hnsw_settings(reopened._collection)
    assert hnsw["ef_search"] == 321
    assert hnsw["space"] == "cosine"


def test_a_higher_version_replaces_every_document_of_the_agent() -> None:
    index = CapabilityIndex(HashingEmbedder())
    try:
        index.upsert(REVIEWER)
        newer = REVIEWER.model_copy(update={"version": 2, "skills": ["comment on a diff"]})
        assert index.upsert(newer) == "replaced"
        assert index.cards["reviewer"].version == 2
        assert index.document_count == 4  # one skill fewer, nothing stale left behind
        assert index.agent_vectors(["reviewer"])["reviewer"].kinds.count("skill") == 1
    finally:
        index.close()


def test_an_equal_or_lower_version_is_ignored() -> None:
    index = CapabilityIndex(HashingEmbedder())
    try:
        index.upsert(REVIEWER.model_copy(update={"version": 3}))
        changed = REVIEWER.model_copy(update={"version": 3, "description": "Something else."})
        assert index.upsert(changed) == "ignored"
        assert index.upsert(REVIEWER.model_copy(update={"version": 2})) == "ignored"
        assert index.cards["reviewer"].description == "Reviews pull requests."
    finally:
        index.close()


def test_an_index_reopened_from_disk_knows_its_cards(tmp_path: Path) -> None:
    CapabilityIndex(HashingEmbedder(), path=tmp_path).upsert(REVIEWER)
    reopened = CapabilityIndex(HashingEmbedder(), path=tmp_path)
    assert reopened.cards["reviewer"].embedding_model == "weft/hashing-384"
    vectors = reopened.agent_vectors(["reviewer"])["reviewer"]  # read back from Chroma
    assert vectors.texts[1] == "comment on a diff"


def test_remove_forgets_all_documents_of_an_agent() -> None:
    index = CapabilityIndex(HashingEmbedder())
    try:
        index.upsert(REVIEWER)
        assert index.remove("reviewer")
        assert index.document_count == 0 and "reviewer" not in index
        assert not index.remove("reviewer")
    finally:
        index.close()


def test_in_memory_indexes_do_not_share_cards() -> None:
    first, second = CapabilityIndex(HashingEmbedder()), CapabilityIndex(HashingEmbedder())
    try:
        first.upsert(REVIEWER)
        assert len(second) == 0 and second.query(np.ones(384, np.float32) / 19.6, 5) == []
    finally:
        first.close()
        second.close()
