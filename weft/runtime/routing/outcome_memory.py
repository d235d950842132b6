"""Which agent did well on subtasks like this one: routing outcomes keyed by subtask vector.

``record`` stores one outcome (agent, card version, success, where it came
from: a call, the user's ``weft feedback``, a critic) under the embedding of
the subtask it was for; ``estimates`` looks up the nearest past subtasks and
turns their outcomes into signed *evidence* per agent:

    evidence(agent) = sum over neighbours of  w * (+1 if success else -1)
    w = ((sim - min_similarity) / (1 - min_similarity)) ** 2 * 0.5 ** (age / half_life)

Only neighbours at least ``min_similarity`` close count (0.55 for MiniLM: on
the labelled sets, a past subtask less similar than that had the same right
agent no more often than chance among close agents, and letting those count
lowered top-1 on new subtasks by 2 points; see bench/routing_sets.py), the
closest far more than the merely related (the square); an outcome loses half its weight every
``half_life_s`` (30 days by default), so an agent that was bad last quarter
and has since been fixed is not punished forever. An outcome recorded against
another version of the agent's card than the current one is ignored: a new
card version starts afresh. The router adds ``success * tanh(evidence)`` to
the score, so one close correction moves a decision a lot and many distant
ones cannot outweigh a clear semantic match. ``rate`` (Laplace-smoothed
success rate) is kept for display.

An outcome counts for a new subtask only when both ask for the same kind of
work (``instruction.same_operation``: a shared imperative verb, or two
questions). Without that rule, on a labelled set written blind (bench/data/
third_*), feedback on half the subtasks made the other half *worse* (top-1
0.648 -> 0.620 and 0.644 -> 0.614): the nearest taught subtask of a close pair
is usually its twin with the other agent (same topic, other operation). With
it, no half of the three labelled sets loses (third 0.657 / 0.652; project and
users' unchanged) and repeated requests keep their gain (0.714 -> 0.929).

A routed call's own outcome says how *that request* went, not what the agent
is for: a call that returned says the agent ran, not that it was the right one
("shout hello there" routed to a greeter succeeds as a greeting), and one that
raised may have hit a bug the next run fixes. Counted for similar requests and
kept as a learned example of the card, every wrong route that did not raise
reinforced itself (one such success moved "shout hello to everyone in the
office", cosine 0.70, to the greeter). So a call's success counts only for a
near-identical request (``call_similarity``, 0.9); its failure counts for
similar ones, so that an agent that keeps failing is avoided; and neither
teaches the card anything. What a person (``weft feedback``) or a critic says
counts from ``min_similarity`` on and becomes the card's learned example or
not-skill.

Nearest past subtasks rarely carry a correction to a *different* request (on
the labelled sets, the nearest subtask of the other half has the same right
agent 24-37% of the time), so ``learned`` also hands the outcomes to the
router as documents of the agents' cards: a success is a learned example of
the agent, a failure a learned not-skill, decayed with age and filed per card
version, scored like the card's own examples and not-skills (closest document
and mean of the closest few). A correction then counts for requests of the
same kind, as an example written into the card would. These rows are read
from Chroma once and kept up to date by ``record``; ``reload`` re-reads them
after another process recorded outcomes.

The outcomes live in their own Chroma collection in the same store as the
cards (and as the experience memory when it shares the store), with the same
embedding-model check. An empty memory costs no query.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weft.runtime.routing.capability_index import AgentVectors
from weft.runtime.routing.chroma_store import HnswParams, embedding_collection
from weft.runtime.routing.instruction import operation_terms, same_operation

DEFAULT_COLLECTION = "weft-route-outcomes"
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class SuccessEstimate:
    """An agent's record on subtasks similar to the current one."""

    rate: float  # smoothed success rate, (weighted wins + 1) / (weight + 2)
    weight: float  # sum of neighbour weights behind it
    count: int  # how many neighbours it is based on
    evidence: float = 0.0  # weighted successes minus weighted failures
    nearest: float = 0.0  # similarity of the closest counted neighbour


@dataclass(frozen=True, slots=True)
class Outcome:
    """One recorded outcome, as kept in memory for the learned examples."""

    agent_id: str
    version: int | None
    success: bool
    at: float
    text: str
    vector: NDArray[np.float32]
    operations: frozenset[str]  # the imperative verbs of ``text`` (``operation_terms``)
    source: str = "call"  # "call", "feedback", "critic"...

    @classmethod
    def of(cls, meta: Mapping[str, Any], text: str, vector: Any) -> Outcome:
        version = meta.get("version")
        return cls(
            agent_id=str(meta["agent_id"]),
            version=None if version is None else int(version),
            success=bool(meta["success"]),
            at=float(meta.get("at", 0.0)),
            text=text,
            vector=np.asarray(vector, dtype=np.float32).reshape(-1),
            operations=frozenset(operation_terms(text)),
            source=str(meta.get("source", "call")),
        )


class CardVersions(Mapping[str, int]):
    """The current card version per agent, read from ``cards`` only for the agents asked
    about: building a dict of every version would cost more than a route at 100k cards."""

    def __init__(self, cards: Mapping[str, Any]) -> None:
        self._cards = cards

    def __getitem__(self, agent_id: str) -> int:
        return int(self._cards[agent_id].version)

    def __iter__(self) -> Iterator[str]:
        return iter(self._cards)

    def __len__(self) -> int:
        return len(self._cards)


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
        neighbours: int = 24,
        min_similarity: float = 0.55,
        call_similarity: float = 0.9,
        half_life_s: float = 30 * DAY_S,
        clock: Any = time.time,
    ) -> None:
        self.collection_name = collection
        self.neighbours = neighbours
        self.min_similarity = min_similarity
        self.call_similarity = call_similarity
        self.half_life_s = half_life_s
        self._clock = clock
        self._collection = embedding_collection(
            client,
            collection,
            model_id=model_id,
            dimension=dimension,
            hnsw=hnsw,
            kind="route-outcomes",
        )
        self._count = int(self._collection.count())
        # Every outcome, read once and kept up to date by ``record``: the learned
        # examples of the agents' cards.
        self._rows: dict[str, list[Outcome]] | None = None  # by agent
        # The same outcomes as one matrix of unit vectors, for ``estimates``: a dot
        # product over a few thousand rows costs microseconds, a Chroma query about
        # two milliseconds (route p99 at 100k cards, bench/routing_sets.py).
        self._matrix: tuple[NDArray[np.float32], list[Outcome]] | None = None
        self._checked = time.monotonic()

    def __len__(self) -> int:
        return self._count

    def record(
        self,
        vector: NDArray[np.float32],
        agent_id: str,
        success: bool,
        text: str,
        *,
        version: int | None = None,
        source: str = "call",
    ) -> None:
        """Store one outcome. Every call adds a record; nothing is deduplicated."""
        meta: dict[str, Any] = {
            "agent_id": agent_id,
            "success": bool(success),
            "at": float(self._clock()),
            "source": source,
        }
        if version is not None:
            meta["version"] = int(version)
        self._collection.add(
            ids=[uuid.uuid4().hex],
            embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            metadatas=[meta],
            documents=[text],
        )
        self._count += 1
        self._matrix = None
        if self._rows is not None:
            self._rows.setdefault(agent_id, []).append(Outcome.of(meta, text, vector))

    def estimates(
        self,
        vector: NDArray[np.float32],
        versions: Mapping[str, int] | None = None,
        *,
        floor: float | None = None,
        operations: frozenset[str] | None = None,
        call_floor: float | None = None,
    ) -> dict[str, SuccessEstimate]:
        """Evidence for the agents tried on subtasks near ``vector``.

        ``versions``: the current card version per agent; outcomes recorded
        against another version are skipped (outcomes without a version count).
        ``floor``: ``min_similarity`` on this embedder's own scale, when it is not
        MiniLM's (``similarity_scale``). ``operations``: the new subtask's
        imperative verbs; an outcome of another kind of work is skipped
        (``same_operation``). None: every outcome counts. ``call_floor``:
        ``call_similarity`` on this embedder's scale, under which a call's own success
        does not count.
        """
        self._follow_other_processes()
        if not self._count:
            return {}
        now = float(self._clock())
        wins: dict[str, float] = {}
        totals: dict[str, float] = {}
        signed: dict[str, float] = {}
        counts: dict[str, int] = {}
        nearest: dict[str, float] = {}
        floor = self.min_similarity if floor is None else floor
        call_floor = self.call_similarity if call_floor is None else call_floor
        for row, similarity in self._nearest(vector):
            if similarity < floor or (
                row.source == "call" and row.success and similarity < call_floor
            ):
                continue  # a call that returned says how that very request went
            if operations is not None and not same_operation(operations, row.operations):
                continue
            agent = row.agent_id
            current = None if versions is None else versions.get(agent)
            if row.version is not None and current is not None and row.version != current:
                continue
            closeness = min(1.0, (similarity - floor) / max(1e-9, 1.0 - floor))
            age = max(0.0, now - row.at)
            weight = closeness**2 * 0.5 ** (age / self.half_life_s)
            ok = row.success
            totals[agent] = totals.get(agent, 0.0) + weight
            wins[agent] = wins.get(agent, 0.0) + (weight if ok else 0.0)
            signed[agent] = signed.get(agent, 0.0) + (weight if ok else -weight)
            counts[agent] = counts.get(agent, 0) + 1
            nearest[agent] = max(nearest.get(agent, 0.0), similarity)
        return {
            agent: SuccessEstimate(
                rate=(wins[agent] + 1.0) / (total + 2.0),
                weight=total,
                count=counts[agent],
                evidence=signed[agent],
                nearest=nearest[agent],
            )
            for agent, total in totals.items()
        }

    def reload(self) -> None:
        """Forget the outcomes read so far, e.g. after another process recorded."""
        self._rows = None
        self._matrix = None
        self._count = int(self._collection.count())
        self._checked = time.monotonic()

    def _follow_other_processes(self) -> None:
        """Re-read the store when its count changed, asking at most once a second:
        outcomes other processes record reach this one within about a second."""
        if time.monotonic() - self._checked < 1.0:
            return
        self._checked = time.monotonic()
        if int(self._collection.count()) != self._count:
            self.reload()

    def _nearest(self, vector: NDArray[np.float32]) -> list[tuple[Outcome, float]]:
        """The ``neighbours`` outcomes most similar to ``vector`` (cosine), closest first."""
        if self._matrix is None:
            rows = [row for outcomes in self._all_rows().values() for row in outcomes]
            if not rows:
                return []
            matrix = np.stack([row.vector for row in rows]).astype(np.float32)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self._matrix = (matrix / np.maximum(norms, 1e-12), rows)
        matrix, rows = self._matrix
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        similarities = matrix @ query
        n = min(self.neighbours, len(rows))
        top = np.argpartition(-similarities, n - 1)[:n] if n < len(rows) else np.arange(len(rows))
        top = top[np.argsort(-similarities[top], kind="stable")]
        return [(rows[i], float(similarities[i])) for i in top]

    def _all_rows(self) -> dict[str, list[Outcome]]:
        """Every outcome by agent, read from the store once and kept up to date by ``record``."""
        if self._rows is None:
            got = self._collection.get(include=["embeddings", "metadatas", "documents"])
            vectors = got["embeddings"] if got["embeddings"] is not None else []
            rows: dict[str, list[Outcome]] = {}
            for m, t, v in zip(got["metadatas"], got["documents"], vectors, strict=True):
                rows.setdefault(str(m["agent_id"]), []).append(Outcome.of(m, str(t), v))
            self._rows = rows
            self._count = sum(len(r) for r in rows.values())
        return self._rows

    def learned(
        self,
        agent_ids: Iterable[str],
        versions: Mapping[str, int] | None = None,
        operations: frozenset[str] | None = None,
    ) -> dict[str, AgentVectors]:
        """Each agent's outcomes as documents of its card: successes as learned examples
        (kind "learned"), failures as things it does not do (kind "not").

        A correction then counts the way the card's own examples and not-skills do
        (the closest one per agent), so it carries to other requests of the same kind,
        not only to a near-identical one. Each vector is scaled by its age decay, so a
        stale example matches less; outcomes of another card version are skipped, and
        with ``operations`` (the new subtask's imperative verbs) so are outcomes of
        another kind of work (``same_operation``).
        """
        grouped: dict[str, list[tuple[Outcome, float]]] = {}
        for row, decay in self._current(agent_ids, versions):
            if row.source == "call":
                continue  # it ran, or raised: that says little of what the card is for
            if operations is not None and not same_operation(operations, row.operations):
                continue
            grouped.setdefault(row.agent_id, []).append((row, decay))
        return {
            agent: AgentVectors(
                kinds=tuple("learned" if r.success else "not" for r, _ in rows),
                texts=tuple(r.text for r, _ in rows),
                vectors=np.stack([r.vector * np.float32(d) for r, d in rows]),
            )
            for agent, rows in grouped.items()
        }

    def _current(
        self, agent_ids: Iterable[str], versions: Mapping[str, int] | None
    ) -> Iterator[tuple[Outcome, float]]:
        """The agents' outcomes on their current card versions, each with its age decay."""
        if not self._count:
            return
        by_agent = self._all_rows()
        now = float(self._clock())
        for agent in set(agent_ids):
            current = None if versions is None else versions.get(agent)
            for row in list(by_agent.get(agent, ())):
                if row.version is not None and current is not None and row.version != current:
                    continue
                yield row, 0.5 ** (max(0.0, now - row.at) / self.half_life_s)


def open_outcomes(client: Any, embedder: Any) -> OutcomeMemory:
    """The routing outcomes in ``client``'s store (shared with experience memory when it is
    the same store), for vectors of ``embedder``.

    Each embedding model has its own collection (MiniLM keeps the original name):
    a past subtask's vector from one model says nothing to another, and one store
    serves whichever ``$WEFT_EMBEDDER`` a command runs with.
    """
    import hashlib

    from weft.runtime.routing.capability_index import embedder_dimension
    from weft.runtime.routing.similarity_scale import REFERENCE_MODEL

    model_id = embedder.model_id
    collection = DEFAULT_COLLECTION
    if model_id != REFERENCE_MODEL:
        collection += "-" + hashlib.sha256(model_id.encode()).hexdigest()[:12]
    return OutcomeMemory(
        client, model_id=model_id, dimension=embedder_dimension(embedder), collection=collection
    )
