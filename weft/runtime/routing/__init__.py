"""Routing: which agent takes a subtask, and why.

``CapabilityRouter`` scores agents' capability cards against a subtask (dense
similarity per skill, lexical match, negations, cost, load, learned outcomes)
over a Chroma ``CapabilityIndex``, optionally with ``LLMChooser``, a last
stage that asks a chat model among the top cards; ``LexicalRouter`` is the model-free
fallback. Embedders live in ``weft.runtime.routing.embeddings``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CapabilityIndex": "weft.runtime.routing.capability_index",
    "CapabilityRouter": "weft.runtime.routing.capability_router",
    "EmbeddingError": "weft.runtime.routing.embeddings",
    "EmbeddingMismatchError": "weft.runtime.routing.embeddings",
    "HashingEmbedder": "weft.runtime.routing.embeddings",
    "LexicalRouter": "weft.runtime.routing.lexical_router",
    "LLMChooser": "weft.runtime.routing.llm_choice",
    "MiniLMEmbedder": "weft.runtime.routing.embeddings",
    "OpenAIEmbedder": "weft.runtime.routing.embeddings",
    "OutcomeMemory": "weft.runtime.routing.outcome_memory",
    "ScoringWeights": "weft.runtime.routing.capability_router",
    "make_embedder": "weft.runtime.routing.embeddings",
}

__all__ = [
    "CapabilityIndex",
    "CapabilityRouter",
    "EmbeddingError",
    "EmbeddingMismatchError",
    "HashingEmbedder",
    "LLMChooser",
    "LexicalRouter",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "OutcomeMemory",
    "ScoringWeights",
    "make_embedder",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.routing.capability_index import CapabilityIndex
    from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights
    from weft.runtime.routing.embeddings import (
        EmbeddingError,
        EmbeddingMismatchError,
        HashingEmbedder,
        MiniLMEmbedder,
        OpenAIEmbedder,
        make_embedder,
    )
    from weft.runtime.routing.lexical_router import LexicalRouter
    from weft.runtime.routing.llm_choice import LLMChooser
    from weft.runtime.routing.outcome_memory import OutcomeMemory
