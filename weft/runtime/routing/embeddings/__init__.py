"""Text embedders: the offline default (MiniLM in numpy), an OpenAI-compatible endpoint,
and a hashing embedder for tests.

``make_embedder("minilm" | "hashing" | "openai:MODEL")`` builds one by name,
which is what configuration files and the CLI use. Submodules load on first
use, so importing this package does not load ``tokenizers`` or ``openai``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from weft.runtime.routing.embeddings.base import (
    Embedder,
    EmbeddingError,
    EmbeddingMismatchError,
    Vectors,
    normalise,
)

_LAZY = {
    "HashingEmbedder": "weft.runtime.routing.embeddings.hashing",
    "MiniLMEmbedder": "weft.runtime.routing.embeddings.minilm",
    "minilm_model_dir": "weft.runtime.routing.embeddings.minilm",
    "OpenAIEmbedder": "weft.runtime.routing.embeddings.openai_compat",
}

__all__ = [
    "Embedder",
    "EmbeddingError",
    "EmbeddingMismatchError",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "Vectors",
    "make_embedder",
    "minilm_model_dir",
    "normalise",
]

if TYPE_CHECKING:
    from weft.runtime.routing.embeddings.hashing import HashingEmbedder
    from weft.runtime.routing.embeddings.minilm import MiniLMEmbedder, minilm_model_dir
    from weft.runtime.routing.embeddings.openai_compat import OpenAIEmbedder

EMBEDDER_NAMES = ("minilm", "hashing", "openai:MODEL")


def make_embedder(name: str = "minilm", **options: Any) -> Embedder:
    """An embedder by name: ``minilm`` (default), ``hashing``, or ``openai:MODEL``
    (bare ``openai`` is ``openai:text-embedding-3-small``; ``openai:`` with no model
    after the colon is refused, not read as the default).

    ``options`` go to the constructor (``base_url=`` for ``openai:``,
    ``dimension=`` for ``hashing``). Unknown names raise ``EmbeddingError``.
    """
    kind, sep, model = name.partition(":")
    kind = kind.strip().lower()
    if kind == "minilm":
        from weft.runtime.routing.embeddings.minilm import MiniLMEmbedder

        return MiniLMEmbedder(**options)
    if kind == "hashing":
        from weft.runtime.routing.embeddings.hashing import HashingEmbedder

        return HashingEmbedder(**options)
    if kind == "openai":
        from weft.runtime.routing.embeddings.openai_compat import OpenAIEmbedder

        if sep and not model.strip():  # "openai:" says a model is coming, then gives none
            raise EmbeddingError(f"embedder '{name}' names no model: give the model: openai:MODEL")
        return OpenAIEmbedder(model.strip() or "text-embedding-3-small", **options)
    raise EmbeddingError(f"unknown embedder '{name}': expected one of {', '.join(EMBEDDER_NAMES)}")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'weft.runtime.routing.embeddings' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
