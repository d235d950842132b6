"""The experience store on Chroma: records in, a reuse decision out.

``ExperienceMemory.open()`` picks the Chroma the user configured: a ``chroma
run`` server when ``url`` (or ``$WEFT_CHROMA_URL``) is given, else the
embedded ``PersistentClient`` under ``path`` (default
``$WEFT_HOME/memory``). Every record is embedded with the task's parameters
masked (``signature.py``), so "translate the guide into Spanish" and "...
into French" sit on the same point; the collection records the embedder's
model and dimension, and opening it with another embedder raises
``EmbeddingMismatchError`` (``routing.chroma_store``).

The methods are synchronous (Chroma's client is); async callers run them in
a worker thread (``orchestrator.experience.MemoryExperience`` does). A memory
that ``open`` made holds its embedded folder (``folder_lock``) until
``close()`` (or the end of a ``with`` block, or of the process): a
long-lived process closes it so that other processes' ``weft ask`` can use
the folder meanwhile. Records
are whole JSON documents in Chroma, so one store is the whole truth: two
processes on one server see each other's records, and export/import is a
copy of the documents. Concurrent writers may lose a use count (``uses`` is
read-modify-write); records themselves are never lost.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from weft.protocols import WeftError
from weft.runtime.memory.decision import Candidate, ReuseDecision, ReusePolicy, decide
from weft.runtime.memory.folder_lock import claim, release
from weft.runtime.memory.prune import absorb, prune_order
from weft.runtime.memory.records import MemoryRecord, Outcome, StepRecord
from weft.runtime.memory.signature import Signature, signature
from weft.runtime.routing.chroma_store import chroma_client, embedding_collection
from weft.runtime.routing.embeddings import Embedder, make_embedder
from weft.runtime.routing.embeddings.base import EmbeddingMismatchError
from weft.runtime.support.home import weft_home

#: Environment variable with a Chroma server URL (``http://127.0.0.1:8000``).
CHROMA_URL_ENV = "WEFT_CHROMA_URL"
TASKS_COLLECTION = "weft_experience"
STEPS_COLLECTION = "weft_steps"
KEYS_COLLECTION = "weft_experience_keys"
#: How far up ``reused_from`` a bad verdict is looked for.
_MAX_LINEAGE = 64


def default_memory_path() -> Path:
    """Where the embedded store lives unless told: ``$WEFT_HOME/memory``."""
    return weft_home() / "memory"


def _client(where: Path | None, url: str | None) -> Any:
    """``open``'s Chroma client, its error naming the folder and what to do."""
    try:
        return chroma_client(path=where, url=url)
    except WeftError as exc:
        if where is None:
            raise
        raise WeftError(
            f"{exc}. Is {where} a weft memory folder? Move it aside or pass another "
            "--memory (weft ask: or --no-memory)"
        ) from None


def _close_client(client: Any) -> None:
    """Close a Chroma client (the embedded one's files and threads are let go when its
    last client in the process closes); a client without ``close`` is left as is."""
    close = getattr(client, "close", None)
    if callable(close):
        close()


class ExperienceMemory:
    """Task records and step examples in two Chroma collections; see the module docstring.

    Built on a ``client`` of the caller's, it leaves that client to them;
    ``open`` makes one of its own, which ``close()`` closes.
    """

    def __init__(self, client: Any, embedder: Embedder, policy: ReusePolicy | None = None) -> None:
        self.client = client
        self.embedder = embedder
        self.policy = policy or ReusePolicy()
        #: The embedded folder ``open`` claimed (``close`` gives it back), and whether
        #: the client is this memory's own to close.
        self._folder: Path | None = None
        self._owns_client = False
        model, dim = embedder.model_id, embedder.dimension
        self.tasks = embedding_collection(
            client, TASKS_COLLECTION, model_id=model, dimension=dim, kind="experience"
        )
        self.steps = embedding_collection(
            client, STEPS_COLLECTION, model_id=model, dimension=dim, kind="steps"
        )
        # the phrasings of merged duplicates (``MemoryRecord.variants``), one vector each
        self.keys = embedding_collection(
            client, KEYS_COLLECTION, model_id=model, dimension=dim, kind="experience-keys"
        )

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        embedder: Embedder | str = "minilm",
        policy: ReusePolicy | None = None,
        create: bool = True,
        wait: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> ExperienceMemory:
        """The store at ``url`` (or ``$WEFT_CHROMA_URL``) if set, else embedded at ``path``.

        An embedded folder is held by this process until ``close()`` (or the
        end of a ``with`` block, or of the process: ``folder_lock``; Chroma's
        embedded store is not safe for two processes), waiting up to ``wait``
        seconds for another holder. ``create=False`` (the commands that
        only read) refuses a folder with no store instead of making an empty one,
        so a mistyped ``--memory`` is an error, not "0 records". Errors name the
        folder or URL and what to do.
        """
        url = url or (None if path is not None else os.environ.get(CHROMA_URL_ENV))
        where = None if url else Path(path) if path is not None else default_memory_path()
        if where is not None:
            if where.exists() and not where.is_dir():
                raise WeftError(
                    f"experience memory {where} is a file, not a folder: pass another --memory"
                )
            if not create and not (where / "chroma.sqlite3").is_file():
                raise WeftError(
                    f"no experience memory at {where}: nothing was recorded there "
                    f"(weft ask records into --memory DIR, default {default_memory_path()})"
                )
            claim(where, wait=wait, on_wait=on_wait)
        client = None
        try:
            model = make_embedder(embedder) if isinstance(embedder, str) else embedder
            client = _client(where, url)
            try:
                memory = cls(client, model, policy)
            except EmbeddingMismatchError as exc:
                said = str(exc).split(";")[0]
                raise EmbeddingMismatchError(
                    f"experience memory {where or url}: {said}; its records cannot be matched. "
                    "Move the folder aside or pass another --memory (weft ask: or --no-memory) "
                    "to start a new memory"
                ) from None
        except BaseException:  # nothing holds the folder or the client now
            _close_client(client)
            if where is not None:
                release(where)
            raise
        memory._folder, memory._owns_client = where, True
        return memory

    def close(self) -> None:
        """Close the client ``open`` made and give its embedded folder back, so that
        another process (a ``weft ask``) can use it. Idempotent; the memory is not
        used afterwards (open it again to). A client passed to the constructor is
        left open: it is the caller's."""
        if self._owns_client:
            self._owns_client = False
            _close_client(self.client)
        folder, self._folder = self._folder, None
        if folder is not None:
            release(folder)

    def __enter__(self) -> ExperienceMemory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- records ---------------------------------------------------------------

    def add(self, record: MemoryRecord) -> str:
        """Store (or replace) ``record``; returns its id."""
        sig = signature(record.task)
        vector = self.embedder.embed([sig.masked])
        self.tasks.upsert(
            ids=[record.id],
            embeddings=vector.tolist(),
            documents=[record.model_dump_json()],
            metadatas=[self._meta(record)],
        )
        self._index_variants(record)
        return record.id

    def _index_variants(self, record: MemoryRecord) -> None:
        """Give each of ``record``'s variants its own vector pointing at the record."""
        self.keys.delete(where={"record": record.id})
        if not record.variants:
            return
        masked = [signature(v).masked for v in record.variants]
        self.keys.upsert(
            ids=[f"{record.id}~{i}" for i in range(len(masked))],
            embeddings=self.embedder.embed(masked).tolist(),
            documents=list(record.variants),
            metadatas=[{"record": record.id} for _ in masked],
        )

    @staticmethod
    def _meta(record: MemoryRecord) -> dict[str, Any]:
        return {
            "outcome": record.outcome or "",
            "run_id": record.run_id or "",
            "uses": record.uses,
            "created": record.created,
        }

    def update(self, record: MemoryRecord) -> None:
        """Rewrite a record's document (counters, outcome), keeping its vector."""
        found = self.tasks.get(ids=[record.id], include=["embeddings"])
        if not len(found["ids"]):
            raise WeftError(f"no memory record '{record.id}'")
        self.tasks.upsert(
            ids=[record.id],
            embeddings=[list(found["embeddings"][0])],
            documents=[record.model_dump_json()],
            metadatas=[self._meta(record)],
        )

    def get(self, record_id: str) -> MemoryRecord:
        """The record ``record_id``; ``WeftError`` naming it when there is none."""
        found = self.tasks.get(ids=[record_id], include=["documents"])
        if not found["ids"]:
            raise WeftError(f"no memory record '{record_id}'")
        return _parse(found["documents"][0], record_id)

    def records(self) -> list[MemoryRecord]:
        """Every record, oldest first."""
        found = self.tasks.get(include=["documents"])
        records = [
            _parse(doc, rid) for rid, doc in zip(found["ids"], found["documents"], strict=True)
        ]
        return sorted(records, key=lambda r: (r.created, r.id))

    def __len__(self) -> int:
        return int(self.tasks.count())

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.tasks.delete(ids=list(ids))
            self.keys.delete(where={"record": {"$in": list(ids)}})

    def by_run(self, run_id: str) -> MemoryRecord:
        """The record of run ``run_id``; ``WeftError`` when that run was not recorded."""
        found = self.tasks.get(where={"run_id": run_id}, include=["documents"])
        if not found["ids"]:
            raise WeftError(f"no memory record for run '{run_id}' (is memory on for that ask?)")
        return _parse(found["documents"][0], found["ids"][0])

    def feedback(self, run_id: str, outcome: Outcome) -> MemoryRecord:
        """The user's verdict on a run: ``good`` keeps its plan reusable, ``bad`` stops reuse."""
        record = self.by_run(run_id)
        record.outcome = outcome
        record.quality = 1.0 if outcome == "good" else 0.0
        self.update(record)
        return record

    # -- reuse -----------------------------------------------------------------

    def match(self, task: str) -> tuple[ReuseDecision, MemoryRecord | None]:
        """The reuse decision for ``task`` and the record it reuses, if any."""
        [(decision, record)] = self.match_many([task])
        return decision, record

    def match_many(self, tasks: Sequence[str]) -> list[tuple[ReuseDecision, MemoryRecord | None]]:
        """``match`` for many tasks with one embedding batch and one query."""
        if not tasks:
            return []
        sigs = [signature(t) for t in tasks]
        count = len(self)
        if count == 0:
            return [(ReuseDecision(None, 0.0, "memory is empty"), None) for _ in tasks]
        vectors = self.embedder.embed([s.masked for s in sigs]).tolist()
        n = min(self.policy.candidates, count)
        found = self.tasks.query(
            query_embeddings=vectors, n_results=n, include=["documents", "distances"]
        )
        keys = int(self.keys.count())
        aliases = (
            self.keys.query(
                query_embeddings=vectors,
                n_results=min(self.policy.candidates, keys),
                include=["documents", "metadatas", "distances"],
            )
            if keys
            else None
        )
        out = []
        for i, sig in enumerate(sigs):
            records = {
                rid: _parse(doc, rid)
                for rid, doc in zip(found["ids"][i], found["documents"][i], strict=True)
            }
            hits = [
                (rid, records[rid].task, 1.0 - float(dist))
                for rid, dist in zip(found["ids"][i], found["distances"][i], strict=True)
            ]
            if aliases is not None:
                hits += self._alias_hits(aliases, i, records)
            judged_bad = self._judged_bad_origin(records) if self.policy.require_good else set()
            candidates = [
                Candidate(rid, signature(text), sim)
                for rid, text, sim in hits
                if rid in records
                and rid not in judged_bad
                and (not self.policy.require_good or records[rid].reusable())
            ]
            decision = decide(sig, candidates, self.policy, _failures(hits, records))
            out.append((decision, records.get(decision.record_id or "")))
        return out

    def _judged_bad_origin(self, records: dict[str, MemoryRecord]) -> set[str]:
        """Ids of ``records`` that carry a plan the user judged bad where it came from.

        An ask that reused record R stores R's plan again (``reused_from``), and
        later asks may reuse that copy. When ``weft feedback`` calls R's run bad,
        the copies must not keep serving the plan: a record is left out when a
        record up its ``reused_from`` chain was judged bad and no verdict was
        given on the way (a ``good`` one vouches for that copy). Runs that merely
        failed are not followed: a failure is the run's, a verdict the user's.
        The chains are walked a level at a time, one store read per level.
        """
        known = dict(records)
        # record id -> the ancestor it is at, while no verdict has been met
        walking: dict[str, str] = {
            rid: r.reused_from
            for rid, r in records.items()
            if r.outcome is None and r.reused_from is not None
        }
        out: set[str] = set()
        for _ in range(_MAX_LINEAGE):
            if not walking:
                break
            missing = sorted(set(walking.values()) - set(known))
            if missing:
                got = self.tasks.get(ids=missing, include=["documents"])
                for rid, doc in zip(got["ids"], got["documents"], strict=True):
                    known[rid] = _parse(doc, rid)
            step: dict[str, str] = {}
            for rid, at in walking.items():
                ancestor = known.get(at)
                if ancestor is None:  # pruned: its verdict went with it
                    continue
                parent = ancestor.reused_from
                if ancestor.outcome == "bad":
                    out.add(rid)
                elif ancestor.outcome is None and parent is not None and parent != rid:
                    step[rid] = parent
            walking = step
        return out

    def _alias_hits(
        self, aliases: Any, i: int, records: dict[str, MemoryRecord]
    ) -> list[tuple[str, str, float]]:
        """(record id, variant text, similarity) of query ``i``; fills ``records``."""
        hits = [
            (str(meta["record"]), str(doc), 1.0 - float(dist))
            for doc, meta, dist in zip(
                aliases["documents"][i],
                aliases["metadatas"][i],
                aliases["distances"][i],
                strict=True,
            )
        ]
        missing = sorted({rid for rid, _, _ in hits} - set(records))
        if missing:
            got = self.tasks.get(ids=missing, include=["documents"])
            for rid, doc in zip(got["ids"], got["documents"], strict=True):
                records[rid] = _parse(doc, rid)
        return hits

    def note_reuse(self, record: MemoryRecord, saved_calls: int, saved_tokens: int) -> None:
        """Count one reuse of ``record`` and what it saved (the prune policy scores by use)."""
        record.uses += 1
        record.saved_calls += saved_calls
        record.saved_tokens += saved_tokens
        self.update(record)

    # -- elimination, export ----------------------------------------------------

    def prune(self, keep: float) -> list[str]:
        """Keep the best ``keep`` fraction (by quality and use); returns the ids dropped.

        Dropped near-duplicates are merged into the record their group keeps
        (``prune.absorb``): their use counts and phrasings stay, their copies go.
        """
        if not 0 < keep <= 1:
            raise WeftError(f"--keep must be in (0, 1], got {keep}")
        records = self.records()
        kept = max(1, round(keep * len(records))) if records else 0
        merged, dropped = absorb(prune_order(records), kept)
        self.delete(dropped)
        for record in merged:  # the duplicates' phrasings and use counts, now theirs
            self.update(record)
            self._index_variants(record)
        return dropped

    def export(self, path: str | Path) -> int:
        """Write every record as one JSON line; returns how many."""
        records = self.records()
        text = "".join(r.model_dump_json() + "\n" for r in records)
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise WeftError(f"cannot write {path}: {exc.strerror or exc}") from None
        return len(records)

    def import_file(self, path: str | Path) -> int:
        """Add the records of an export (same ids replace); errors name the file and line."""
        records = list(read_records(path))
        for record in records:
            self.add(record)
        return len(records)

    # -- step examples ----------------------------------------------------------

    def add_step(self, step: StepRecord) -> str:
        """Keep one agent call as a possible few-shot example; returns its id.

        The id comes from the agent, input and output: the same answer to the
        same subtask (a task asked again, a reused plan) replaces its earlier
        copy instead of filling the pool, and ``examples(k=3)`` with three
        copies of one pair.
        """
        digest = hashlib.sha256(f"{step.agent}\0{step.input}\0{step.output}".encode()).hexdigest()
        step = step.model_copy(update={"id": f"step-{digest[:16]}"})
        vector = self.embedder.embed([step.input])
        self.steps.upsert(
            ids=[step.id],
            embeddings=vector.tolist(),
            documents=[step.model_dump_json()],
            metadatas=[{"agent": step.agent, "quality": step.quality}],
        )
        return step.id

    def examples(
        self,
        text: str,
        *,
        agent: str | None = None,
        k: int = 3,
        min_quality: float = 0.5,
        shared: bool = True,
    ) -> list[StepRecord]:
        """The ``k`` nearest good past steps on inputs like ``text``, nearest first.

        With ``agent``, that agent's own steps come first (its pool: its own
        style and tools); when it has fewer than ``k``, the rest come from every
        agent's steps (the shared pool) unless ``shared=False``. This is the
        ``examples`` source ``LLMAgent(examples=memory)`` expects.
        """
        if k <= 0 or self.steps.count() == 0:
            return []
        vector = self.embedder.embed([text]).tolist()
        good: dict[str, Any] = {"quality": {"$gte": min_quality}}
        mine = {"$and": [good, {"agent": agent}]}
        wide = 3 * k  # room for the copies ``_unique`` drops
        own = _unique(self._nearest_steps(vector, wide, mine)) if agent else []
        if agent is not None and (len(own) >= k or not shared):
            return own[:k]
        rest = self._nearest_steps(vector, wide + len(own), good)
        return _unique(own + rest)[:k]

    def _nearest_steps(self, vector: Any, k: int, where: dict[str, Any]) -> list[StepRecord]:
        found = self.steps.query(
            query_embeddings=vector, n_results=k, where=where, include=["documents"]
        )
        return [StepRecord.model_validate_json(doc) for doc in found["documents"][0]]

    def signature(self, task: str) -> Signature:
        return signature(task)


def _unique(steps: list[StepRecord]) -> list[StepRecord]:
    """One (input, output) pair once, in order: whichever agent made it, however often
    (stores written before ``add_step`` ids came from the content hold copies)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for step in steps:
        if (step.input, step.output) not in seen:
            seen.add((step.input, step.output))
            out.append(step)
    return out


def _failures(
    hits: list[tuple[str, str, float]], records: dict[str, MemoryRecord]
) -> dict[str, tuple[str, float]]:
    """Record id -> (the nearest of its reuses that went bad, its similarity)."""
    out: dict[str, tuple[str, float]] = {}
    for rid, _, sim in hits:
        bad = records.get(rid)
        if bad is None or bad.reusable() or bad.reused_from is None:
            continue
        if sim > out.get(bad.reused_from, ("", -1.0))[1]:
            out[bad.reused_from] = (rid, sim)
    return out


def _parse(document: str | None, record_id: str) -> MemoryRecord:
    try:
        return MemoryRecord.model_validate_json(document or "")
    except ValidationError as exc:
        raise WeftError(
            f"memory record '{record_id}' is damaged: {exc.errors()[0]['msg']}"
        ) from None


def read_records(path: str | Path) -> Iterable[MemoryRecord]:
    """Records from an export file (JSON lines); ``WeftError`` names the file and line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise WeftError(f"cannot read {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield MemoryRecord.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise WeftError(f"{path}:{number}: not a memory record: {msg}") from None
