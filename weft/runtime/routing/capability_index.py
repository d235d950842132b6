"""Capability cards in Chroma, one vector per thing a card says.

Whole-card similarity is not enough where agents are close (measured near 0.6
top-1 between code review and test writing, charts and statistics), so a card
is indexed as several documents, each embedded on its own:

- ``card``: description and skills together, without the description's
  negated sentences (``card_text.card_positive_text``);
- ``skill``: each skill;
- ``example``: each example task;
- ``not``: each ``not_skills`` entry, then each clause the description
  negates in prose ("it does not give medical advice"). These are *negative* evidence: the
  router penalises an agent whose not-skills match a subtask better than its
  skills do; they never count for it.

Document ids are ``{agent_id}#{kind}{i}``; every document's metadata carries
``agent_id``, ``version`` and ``kind``, and the ``card`` document also carries
the whole card as JSON, so an index reopened from disk knows its cards (and
the texts of their documents) without re-embedding them. Document texts are
not stored separately: that made indexing about a fifth slower.

Versions: ``upsert`` of a card with a higher version than the stored one
replaces all of that agent's documents (a card with fewer skills leaves no
stale ones behind); an equal or lower version is ignored, because retained
cards are re-announced on every reconnect.

The index keeps the cards, and the vectors of recently used agents, in memory:
the router rescores its candidates exactly over all of an agent's documents,
which one approximate top-n query cannot give. That view belongs to this
process: processes sharing a Chroma server each see their own writes at once
and the others' after ``reload()``. Methods are synchronous (Chroma's client
is); the router calls them from a worker thread. Writes are serialised by a
lock; queries may run alongside them.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from weft.protocols import CapabilityCard, WeftError
from weft.runtime.routing.card_text import card_not_skills, card_positive_text
from weft.runtime.routing.chroma_store import HnswParams, chroma_client, embedding_collection
from weft.runtime.routing.embeddings.base import Embedder, EmbeddingError, Vectors

DocKind = Literal["card", "skill", "example", "not", "learned"]
UpsertResult = Literal["added", "replaced", "ignored"]

DEFAULT_COLLECTION = "weft-capabilities"


@dataclass(frozen=True, slots=True)
class CardDocument:
    """One indexed piece of a card."""

    id: str
    agent_id: str
    kind: DocKind
    text: str


@dataclass(frozen=True, slots=True)
class DocHit:
    """A document returned by a similarity query."""

    agent_id: str
    kind: DocKind
    similarity: float
    doc_id: str


@dataclass(frozen=True, slots=True)
class AgentVectors:
    """Every indexed document of one agent, with its vector (rows are unit length)."""

    kinds: tuple[DocKind, ...]
    texts: tuple[str, ...]
    vectors: NDArray[np.float32]


def card_documents(card: CapabilityCard) -> list[CardDocument]:
    """The documents a card is indexed as; empty texts are skipped."""
    docs = [CardDocument(f"{card.agent_id}#card", card.agent_id, "card", card_positive_text(card))]
    groups: list[tuple[DocKind, list[str]]] = [
        ("skill", card.skills),
        ("example", card.examples),
        ("not", card_not_skills(card)),
    ]
    for kind, texts in groups:
        for i, text in enumerate(texts):
            if text.strip():
                docs.append(CardDocument(f"{card.agent_id}#{kind}{i}", card.agent_id, kind, text))
    return docs


def _kind_of(doc_id: str) -> DocKind:
    tail = doc_id.rsplit("#", 1)[-1].rstrip("0123456789")
    return tail if tail in ("card", "skill", "example", "not") else "card"  # type: ignore[return-value]


def _agent_of(doc_id: str) -> str:
    return doc_id.rsplit("#", 1)[0]


def embedder_dimension(embedder: Embedder) -> int:
    """``embedder.dimension``, learnt from one probe call when the embedder does not know it."""
    try:
        return embedder.dimension
    except EmbeddingError:
        return int(embedder.embed(["dimension probe"]).shape[1])


class CapabilityIndex:
    """Capability cards embedded with ``embedder`` in Chroma collection ``collection``.

    Where it lives: ``client`` if given, else a ``chroma run`` server at ``url``,
    else an embedded store under ``path``, else in memory (then the collection
    name gets a unique suffix, because Chroma shares one in-memory database per
    process). Raises ``EmbeddingMismatchError`` when the collection was built
    with another embedding model.

    ``cached_agents`` bounds how many agents' document vectors stay in memory
    (about 1.5 KB per document at 384 dimensions); misses are read from Chroma.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        client: Any = None,
        collection: str = DEFAULT_COLLECTION,
        hnsw: HnswParams | None = None,
        cached_agents: int = 4096,
    ) -> None:
        self.embedder = embedder
        self.hnsw = hnsw or HnswParams()
        persistent = client is not None or url is not None or path is not None
        self.client = client if client is not None else chroma_client(path=path, url=url)
        self.collection_name = collection if persistent else f"{collection}-{uuid.uuid4().hex[:12]}"
        self._ephemeral = not persistent
        self.dimension = embedder_dimension(embedder)
        self._collection = embedding_collection(
            self.client,
            self.collection_name,
            model_id=embedder.model_id,
            dimension=self.dimension,
            hnsw=self.hnsw,
            kind="capabilities",
        )
        self._lock = threading.RLock()
        self._cards: dict[str, CapabilityCard] = {}
        self._doc_count = 0
        self._vectors: OrderedDict[str, AgentVectors] = OrderedDict()
        self._cache_size = cached_agents
        self._max_batch = int(self.client.get_max_batch_size())
        self._load_cards()

    # -- reading -------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the cards from Chroma (after other processes changed the collection)."""
        with self._lock:
            self._cards.clear()
            self._vectors.clear()
            self._load_cards()

    def _load_cards(self) -> None:
        self._doc_count = int(self._collection.count())
        if not self._doc_count:
            return
        offset, page = 0, 5000
        while True:
            got = self._collection.get(
                where={"kind": "card"}, include=["metadatas"], limit=page, offset=offset
            )
            for meta in got["metadatas"] or []:
                card = CapabilityCard.model_validate_json(str(meta["card"]))
                self._cards[card.agent_id] = card
            if len(got["ids"]) < page:
                break
            offset += page

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def cards(self) -> dict[str, CapabilityCard]:
        """The current card of every indexed agent (a copy-free view; do not mutate)."""
        return self._cards

    def get(self, agent_id: str) -> CapabilityCard | None:
        return self._cards.get(agent_id)

    def __len__(self) -> int:
        return len(self._cards)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._cards

    def __iter__(self) -> Iterator[CapabilityCard]:
        return iter(list(self._cards.values()))

    @property
    def document_count(self) -> int:
        return self._doc_count

    def query(
        self, vector: NDArray[np.float32], n: int, *, agent_ids: Sequence[str] | None = None
    ) -> list[DocHit]:
        """The ``n`` documents nearest to ``vector`` (HNSW, approximate), nearest first.

        ``agent_ids`` restricts the search to those agents' documents (a Chroma
        metadata filter: exact for the filter, slower for large lists).
        """
        ids, sims = self.nearest(vector, n, agent_ids=agent_ids)
        return [
            DocHit(_agent_of(doc_id), _kind_of(doc_id), sim, doc_id)
            for doc_id, sim in zip(ids, sims, strict=True)
        ]

    def nearest(
        self, vector: NDArray[np.float32], n: int, *, agent_ids: Sequence[str] | None = None
    ) -> tuple[list[str], list[float]]:
        """``query`` as two plain lists, document ids and similarities (the router's hot path)."""
        n = min(n, self._doc_count)
        if n <= 0 or (agent_ids is not None and not agent_ids):
            return [], []
        where = None if agent_ids is None else {"agent_id": {"$in": list(agent_ids)}}
        got = self._collection.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=n,
            where=where,
            include=["distances"],
        )
        distances = (got["distances"] or [[]])[0]
        return list(got["ids"][0]), [1.0 - float(d) for d in distances]

    def agent_vectors(self, agent_ids: Iterable[str]) -> dict[str, AgentVectors]:
        """All document vectors of each agent (from memory, else one Chroma read by id)."""
        found: dict[str, AgentVectors] = {}
        missing: dict[str, list[CardDocument]] = {}
        with self._lock:
            for agent in agent_ids:
                cached = self._vectors.get(agent)
                if cached is not None:
                    self._vectors.move_to_end(agent)
                    found[agent] = cached
                elif agent in self._cards:
                    missing[agent] = card_documents(self._cards[agent])
        if missing:
            # Reading by id is several times faster than a metadata filter on agent_id.
            ids = [d.id for docs in missing.values() for d in docs]
            got = self._collection.get(ids=ids, include=["embeddings"])
            embeddings = got["embeddings"] if got["embeddings"] is not None else []
            by_id = dict(zip(got["ids"], embeddings, strict=True))
            for agent, docs in missing.items():
                present = [d for d in docs if d.id in by_id]
                if not present:
                    continue
                entry = AgentVectors(
                    kinds=tuple(d.kind for d in present),
                    texts=tuple(d.text for d in present),
                    vectors=np.asarray([by_id[d.id] for d in present], dtype=np.float32),
                )
                found[agent] = entry
                self._remember(agent, entry)
        return found

    def clear_cache(self) -> None:
        """Drop the in-memory document vectors; they are read back from Chroma as needed."""
        with self._lock:
            self._vectors.clear()

    def _remember(self, agent: str, entry: AgentVectors) -> None:
        with self._lock:
            self._vectors[agent] = entry
            self._vectors.move_to_end(agent)
            while len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)

    # -- writing -------------------------------------------------------------------------

    def plan_upsert(self, card: CapabilityCard) -> UpsertResult:
        """What ``upsert(card)`` would do, without doing it."""
        current = self._cards.get(card.agent_id)
        if current is None:
            return "added"
        return "replaced" if card.version > current.version else "ignored"

    def upsert(self, card: CapabilityCard, vectors: Vectors | None = None) -> UpsertResult:
        """Index ``card`` unless a card of the same or a higher version is already there.

        ``vectors`` are the embeddings of ``card_documents(card)`` in order, when
        the caller has them (the router embeds asynchronously); otherwise they
        are computed here.
        """
        return self.upsert_many([card], None if vectors is None else [vectors])[0]

    def upsert_many(
        self,
        cards: Sequence[CapabilityCard],
        vectors: Sequence[Vectors] | None = None,
    ) -> list[UpsertResult]:
        """``upsert`` for many cards, embedding their documents in one batch.

        Within ``cards``, a later entry for the same agent competes with the
        earlier ones by version like any other upsert.
        """
        results: list[UpsertResult] = []
        accepted: dict[str, tuple[CapabilityCard, list[CardDocument], Vectors | None]] = {}
        with self._lock:
            for i, card in enumerate(cards):
                pending = accepted.get(card.agent_id)
                if pending is not None and card.version <= pending[0].version:
                    results.append("ignored")
                    continue
                result = self.plan_upsert(card) if pending is None else "replaced"
                results.append(result)
                if result != "ignored":
                    given = None if vectors is None else vectors[i]
                    accepted[card.agent_id] = (card, card_documents(card), given)
            if not accepted:
                return results
            todo = [(c, docs) for c, docs, v in accepted.values() if v is None]
            if todo:
                fresh = self.embedder.embed([d.text for _, docs in todo for d in docs])
                start = 0
                for card, docs in todo:
                    accepted[card.agent_id] = (card, docs, fresh[start : start + len(docs)])
                    start += len(docs)
            self._write(accepted)
        return results

    def _write(
        self, accepted: dict[str, tuple[CapabilityCard, list[CardDocument], Vectors | None]]
    ) -> None:
        stale: list[str] = []
        for agent in accepted:
            old = self._cards.get(agent)
            if old is not None:
                stale.extend(d.id for d in card_documents(old))
        for start in range(0, len(stale), self._max_batch):
            self._collection.delete(ids=stale[start : start + self._max_batch])
        self._doc_count -= len(stale)
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        rows: list[NDArray[np.float32]] = []
        for card, docs, vecs in accepted.values():
            assert vecs is not None
            if vecs.shape != (len(docs), self.dimension):
                raise WeftError(
                    f"card '{card.agent_id}': expected {len(docs)} vectors of dimension "
                    f"{self.dimension}, got shape {vecs.shape}"
                )
            card = card.model_copy(update={"embedding_model": self.embedder.model_id})
            for doc in docs:
                meta: dict[str, Any] = {
                    "agent_id": card.agent_id,
                    "version": card.version,
                    "kind": doc.kind,
                }
                if doc.kind == "card":
                    meta["card"] = card.model_dump_json()
                ids.append(doc.id)
                metas.append(meta)
            rows.append(vecs)
            self._cards[card.agent_id] = card
            self._remember(
                card.agent_id,
                AgentVectors(
                    kinds=tuple(d.kind for d in docs),
                    texts=tuple(d.text for d in docs),
                    vectors=np.ascontiguousarray(vecs, dtype=np.float32),
                ),
            )
        matrix = np.concatenate(rows) if rows else np.zeros((0, self.dimension), np.float32)
        for start in range(0, len(ids), self._max_batch):
            end = start + self._max_batch
            self._collection.add(
                ids=ids[start:end],
                embeddings=matrix[start:end],
                metadatas=metas[start:end],
            )
        self._doc_count += len(ids)

    def remove(self, agent_id: str) -> bool:
        """Forget an agent and all its documents; False if it was not indexed."""
        with self._lock:
            card = self._cards.pop(agent_id, None)
            self._vectors.pop(agent_id, None)
            if card is None:
                return False
            ids = [d.id for d in card_documents(card)]
            self._collection.delete(ids=ids)
            self._doc_count -= len(ids)
            return True

    def close(self) -> None:
        """Drop the collection if it was an in-memory one; persistent data stays."""
        if self._ephemeral:
            with contextlib.suppress(Exception):  # already gone: nothing to clean up
                self.client.delete_collection(self.collection_name)
