"""Which agent did well on subtasks like this one: routing outcomes keyed by subtask vector.

``record`` stores one outcome (agent, success) under the embedding of the
subtask it was for; ``estimates`` looks up the nearest past subtasks and turns
their outcomes into a success rate per agent. Only neighbours at least
``min_similarity`` close count, each weighted by how close it is
(``(sim - min_similarity) / (1 - min_similarity)``), and the rate is
Laplace-smoothed, ``(weighted successes + 1) / (weighted count + 2)``, so one
lucky or unlucky call moves it only a little and an agent never tried on
anything similar has no estimate at all (the router then treats it as neutral).

The outcomes live in their own Chroma collection, next to the cards, with the
same embedding-model check. An empty memory costs no query.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weft.runtime.routing.chroma_store import HnswParams, embedding_collection

DEFAULT_COLLECTION = "weft-route-outcomes"


@dataclass(frozen=True, slots=True)
class SuccessEstimate:
    """An agent's smoothed success rate on similar past subtasks."""

    rate: float
    weight: float  # sum of neighbour weights behind the rate
    count: int  # how many neighbours it is based on


class OutcomeMemory:
    """Routing outcomes in Chroma collection ``collection`` of ``client``."""

    def __init__(
        self,
        client: Any,
        *,
        model_id: str,
        dimension: int,
        collection: str = DEFAULT_COLLECTION,
        hnsw: HnswParams | None = None,
        neighbours: int = 32,
        min_similarity: float = 0.6,
    ) -> None:
        self.collection_name = collection
        self.neighbours = neighbours
        self.min_similarity = min_similarity
        self._collection = embedding_collection(
            client,
            collection,
            model_id=model_id,
            dimension=dimension,
            hnsw=hnsw,
            kind="route-outcomes",
        )
        self._count = int(self._collection.count())

    def __len__(self) -> int:
        return self._count

    def record(self, vector: NDArray[np.float32], agent_id: str, success: bool, text: str) -> None:
        """Store one outcome. Every call adds a record; nothing is deduplicated."""
        self._collection.add(
            ids=[uuid.uuid4().hex],
            embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            metadatas=[{"agent_id": agent_id, "success": bool(success), "at": time.time()}],
            documents=[text],
        )
        self._count += 1

    def estimates(self, vector: NDArray[np.float32]) -> dict[str, SuccessEstimate]:
        """Success estimates of the agents tried on subtasks near ``vector``."""
        n = min(self.neighbours, self._count)
        if n <= 0:
            return {}
        got = self._collection.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=n,
            include=["metadatas", "distances"],
        )
        wins: dict[str, float] = {}
        totals: dict[str, float] = {}
        counts: dict[str, int] = {}
        floor = self.min_similarity
        for meta, distance in zip(got["metadatas"][0], got["distances"][0], strict=True):
            similarity = 1.0 - float(distance)
            if similarity < floor:
                continue
            weight = min(1.0, (similarity - floor) / max(1e-9, 1.0 - floor))
            agent = str(meta["agent_id"])
            totals[agent] = totals.get(agent, 0.0) + weight
            wins[agent] = wins.get(agent, 0.0) + (weight if meta["success"] else 0.0)
            counts[agent] = counts.get(agent, 0) + 1
        return {
            agent: SuccessEstimate(
                rate=(wins[agent] + 1.0) / (total + 2.0), weight=total, count=counts[agent]
            )
            for agent, total in totals.items()
        }
