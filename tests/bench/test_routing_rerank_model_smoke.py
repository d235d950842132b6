"""``bench/routing_rerank_model.py`` routes a set with a GGUF scorer and reuses its likelihoods.

SmolLM2's GGUF run by llama.cpp stands in for the larger model (the bench's own
figures use Qwen2.5-Coder-1.5B): six subtasks of the users' set, scored once,
then routed again at every weight from the cache, which must not call the model.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from weft.runtime.routing.embeddings import MiniLMEmbedder
from weft.runtime.routing.likelihood import smollm2_gguf_path
from weft.runtime.routing.likelihood.llama_cpp_scorer import larger_model_stage

from .conftest import load_bench


def _load_bench() -> ModuleType:
    """The script, loaded without leaving its imports behind: it puts bench/ first on
    ``sys.path`` and imports ``bench/routing.py`` as ``routing``, which would shadow the
    ``tests/routing`` package for every test collected or imported after it (and, the
    other way round, an imported ``tests/routing`` would be what the script finds)."""
    saved = {name: sys.modules.pop(name) for name in SHADOWING if name in sys.modules}
    path = list(sys.path)
    try:
        return load_bench("routing_rerank_model")
    finally:
        for name in SHADOWING:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
        sys.path[:] = path


SHADOWING = ("routing", "routing_sets")


async def test_a_set_is_scored_once_and_routed_at_every_weight(tmp_path: Path) -> None:
    bench = _load_bench()
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed: ./scripts/real-llm-server --install")
    stage = larger_model_stage(smollm2_gguf_path())
    cache = tmp_path / "scores.json"
    caching = bench.CachingScorer(stage.scorer, "smollm2-gguf", cache)
    stage.scorer = caching
    tasks, chosen, seconds = await bench.route_set(MiniLMEmbedder().load(), stage, "user", 8, 6)
    assert len(tasks) == 6 and seconds > 0
    assert set(chosen) == {*bench.WEIGHTS, stage.weight}
    assert all(len(picks) == 6 for picks in chosen.values())
    scored = caching.scored
    assert 6 <= scored <= 6 * 6  # top 5 and the card-less prompt, each subtask once
    assert len(json.loads(cache.read_text())["smollm2-gguf"]) == scored  # kept on disk
