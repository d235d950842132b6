"""Opening Chroma the way weft needs it: offline, vectors passed in, model recorded.

Every weft collection (capability cards, routing outcomes, experience memory)
is opened through ``embedding_collection``, which

- never attaches Chroma's default embedding function (it downloads a model
  and fails offline): callers always pass vectors;
- records the embedding model id and dimension in the collection metadata
  and raises ``EmbeddingMismatchError`` when an existing collection was built
  with another model, instead of silently comparing incomparable vectors;
- sets the HNSW parameters explicitly. Chroma's search breadth default is
  low: recall@5 was measured at 0.53 with it and 0.99 with ``ef_search=400``
  on 10k vectors. ``ef_search`` of an existing collection is updated to the
  requested value when it differs (it is a query-time setting), but Chroma
  keeps an index it has loaded with the old value until the process ends:
  the new value applies to processes that open the collection afterwards.
  ``ef_construction`` and ``max_neighbors`` are fixed at creation.

Clients: ``chroma_client(url=...)`` talks to a ``chroma run`` server,
``chroma_client(path=...)`` is the embedded persistent store, and with
neither it is in memory. Chroma shares one in-memory database per process
between all its ephemeral clients, so callers that want isolation there give
their collections unique names (``CapabilityIndex`` does). Telemetry is off.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from weft.protocols import WeftError
from weft.runtime.routing.embeddings.base import EmbeddingMismatchError

#: Collection metadata keys written by weft.
MODEL_KEY = "weft:embedding_model"
DIMENSION_KEY = "weft:dimension"
KIND_KEY = "weft:kind"

INSTALL_HINT = "pip install 'chromadb>=1.0'"


@dataclass(frozen=True, slots=True)
class HnswParams:
    """HNSW index settings; weft always passes all of them to Chroma.

    ``ef_search`` is the query-time candidate list length: higher means better
    recall and slower queries. ``ef_construction`` and ``max_neighbors`` (M)
    shape the graph and cannot change after the collection is created. The
    defaults were measured here: M=16/ef_construction=100 built 3.5x faster
    than M=32/ef_construction=200 (7.1k vs 2.8k vectors/s on 20k) and queried
    faster (0.9 vs 1.4 ms on 200k), at recall@5 0.997 vs 1.000. On 400k
    MiniLM-like vectors (``bench/routing.py``, 100k cards) a query for 64
    neighbours took 1.3 / 1.5 / 1.6 / 1.75 / 1.85 / 2.9 ms at ef_search
    64 / 100 / 128 / 160 / 200 / 400, with recall@5 0.948 / 0.971 / 0.979 /
    0.992 / 0.995 / 0.999: 200 keeps recall above 0.99 for a few tenths of a
    millisecond.
    """

    space: str = "cosine"
    ef_construction: int = 128
    ef_search: int = 200
    max_neighbors: int = 16

    def configuration(self) -> dict[str, Any]:
        return {
            "hnsw": {
                "space": self.space,
                "ef_construction": self.ef_construction,
                "ef_search": self.ef_search,
                "max_neighbors": self.max_neighbors,
            }
        }


def _chromadb() -> Any:
    try:
        import chromadb
    except ImportError:
        raise WeftError(f"this feature needs Chroma: {INSTALL_HINT}") from None
    return chromadb


def chroma_client(path: str | Path | None = None, url: str | None = None) -> Any:
    """A Chroma client: server at ``url``, else embedded at ``path``, else in memory.

    ``url`` is ``http://host:port`` or ``https://host:port`` of a ``chroma run``
    server. Errors connecting raise ``WeftError`` naming the URL or path.
    """
    chromadb = _chromadb()
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    try:
        if url:
            parsed = urlparse(url if "://" in url else f"http://{url}")
            ssl = parsed.scheme == "https"
            return chromadb.HttpClient(
                host=parsed.hostname or "localhost",
                port=parsed.port or (443 if ssl else 8000),
                ssl=ssl,
                settings=settings,
            )
        if path is not None:
            Path(path).mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=settings)
        return chromadb.EphemeralClient(settings=settings)
    except WeftError:
        raise
    except Exception as exc:
        where = url or (str(path) if path is not None else "in-memory Chroma")
        raise WeftError(f"cannot open Chroma at {where}: {exc}") from exc


def embedding_collection(
    client: Any,
    name: str,
    *,
    model_id: str,
    dimension: int,
    hnsw: HnswParams | None = None,
    kind: str = "weft",
) -> Any:
    """Get or create collection ``name`` for vectors of ``model_id`` (``dimension`` long).

    Raises ``EmbeddingMismatchError`` when the collection exists with another
    model or dimension, or was not created by weft (no model recorded).
    """
    hnsw = hnsw or HnswParams()
    existing = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    if name not in existing:
        return client.create_collection(
            name,
            embedding_function=None,
            configuration=hnsw.configuration(),
            metadata={MODEL_KEY: model_id, DIMENSION_KEY: dimension, KIND_KEY: kind},
        )
    with _quiet_chroma():
        collection = client.get_collection(name, embedding_function=None)
    meta = collection.metadata or {}
    found_model, found_dim = meta.get(MODEL_KEY), meta.get(DIMENSION_KEY)
    if found_model is None:
        raise EmbeddingMismatchError(
            f"Chroma collection '{name}' was not created by weft (it records no embedding "
            "model); use another collection name"
        )
    if found_model != model_id or int(found_dim or 0) != dimension:
        raise EmbeddingMismatchError(
            f"Chroma collection '{name}' holds vectors of embedding model '{found_model}' "
            f"({found_dim}-d), but this index embeds with '{model_id}' ({dimension}-d); "
            "vectors of different models cannot be compared. Use the same embedder, another "
            "collection name or path, or delete the collection to rebuild it."
        )
    if hnsw_settings(collection).get("ef_search") != hnsw.ef_search:
        with _quiet_chroma():
            collection.modify(configuration={"hnsw": {"ef_search": hnsw.ef_search}})
    return collection


def hnsw_settings(collection: Any) -> dict[str, Any]:
    """The HNSW configuration Chroma holds for ``collection`` (space, ef_search, ...)."""
    with _quiet_chroma():
        return dict((collection.configuration or {}).get("hnsw") or {})


@contextlib.contextmanager
def _quiet_chroma() -> Iterator[None]:
    # Chroma 1.x warns "legacy embedding function config" whenever it reads the
    # configuration of a collection created without an embedding function,
    # which is exactly how weft creates every collection (vectors are passed in).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="legacy embedding function config")
        yield
