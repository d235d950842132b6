"""``bench/routing_rerank_model.py`` routes a set with a GGUF scorer and reuses its likelihoods.

SmolLM2's GGUF run by llama.cpp stands in for the larger model (the bench's own
figures use Qwen2.5-Coder-1.5B): six subtasks of the users' set, scored once,
then routed again at every weight from the cache, which must not call the model.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from weft.runtime.routing.embeddings import MiniLMEmbedder
from weft.runtime.routing.likelihood import smollm2_gguf_path
from weft.runtime.routing.likelihood.llama_cpp_scorer import larger_model_stage

from .conftest import load_bench

bench = load_bench("routing_rerank_model")


async def test_a_set_is_scored_once_and_routed_at_every_weight(tmp_path: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed: ./scripts/real-llm-server --install")
    stage = larger_model_stage(smollm2_gguf_path())
    cache = tmp_path / "scores.json"
    stage.scorer = bench.CachingScorer(stage.scorer, "smollm2-gguf", cache)
    tasks, chosen, seconds = await bench.route_set(MiniLMEmbedder().load(), stage, "user", 8, 6)
    assert len(tasks) == 6 and seconds > 0
    assert set(chosen) == {*bench.WEIGHTS, stage.weight}
    assert all(len(picks) == 6 for picks in chosen.values())
    scored = stage.scorer.scored
    assert 6 <= scored <= 6 * 6  # top 5 and the card-less prompt, each subtask once
    assert len(json.loads(cache.read_text())["smollm2-gguf"]) == scored  # kept on disk
