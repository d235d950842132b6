"""A deterministic bag-of-words embedder for tests: no model, no network, no state.

Each lower-cased word and each pair of adjacent words is hashed (BLAKE2b, so
the result does not depend on ``PYTHONHASHSEED``) to a signed bucket; the
counts are L2-normalised. Texts that share words are similar and nothing
else is: it knows no synonyms, so it routes paraphrased subtasks badly
(measured: 5 of 16 sample subtasks right where MiniLM got 16). Use it where a
test needs vectors, not meaning.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np

from weft.runtime.routing.embeddings.base import Vectors, normalise

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Feature hashing of words and word bigrams into ``dimension`` signed buckets."""

    def __init__(self, dimension: int = 384) -> None:
        if dimension < 8:
            raise ValueError("dimension must be at least 8")
        self.dimension = dimension
        self.model_id = f"weft/hashing-{dimension}"

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dimension, (1.0 if value >> 63 else -1.0)

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
            for feature in features:
                index, sign = self._bucket(feature)
                out[row, index] += sign
        return normalise(out)

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        return self.embed(texts)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimension={self.dimension})"
