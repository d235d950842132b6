"""The ``Embedder`` interface every text-embedding backend implements.

An embedder turns texts into rows of an L2-normalised float32 matrix, so a dot
product is a cosine similarity. ``model_id`` names the model and is recorded
next to every vector it made (Chroma collection metadata, capability cards):
vectors from two models must never be compared.

``embed`` is synchronous because the default model is CPU work; ``aembed`` is
what async code calls (the local model runs it in a worker thread, a remote
endpoint awaits its HTTP call). That pair is the one place weft keeps a sync
and an async twin: indexing a file of cards from the CLI or a benchmark is
plain synchronous code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from weft.protocols import WeftError

Vectors = NDArray[np.float32]
"""A ``(n, dimension)`` float32 matrix whose rows have unit L2 norm."""


class EmbeddingError(WeftError):
    """An embedder cannot run: its model is not installed, or the endpoint failed."""


class EmbeddingMismatchError(WeftError):
    """Vectors from one model were about to be compared with vectors from another."""


@runtime_checkable
class Embedder(Protocol):
    """Texts to unit vectors. Implementations must be safe to call from several threads."""

    @property
    def model_id(self) -> str:
        """Stable id of the model, recorded wherever its vectors are stored."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text, in order. An empty input gives a ``(0, dimension)`` matrix."""
        ...

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        """``embed`` without blocking the event loop."""
        ...


def normalise(vectors: NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit L2 norm as float32; all-zero rows stay zero."""
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim != 2:
        raise ValueError(f"expected a 2-d matrix of vectors, got shape {out.shape}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)
