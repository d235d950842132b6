"""The run journal: an append-only event log in SQLite.

Each node state change is one row, never a snapshot of the whole run, so the
cost of recording a step does not grow with the size of the state. A run that
died is rebuilt by reading back the outputs of the calls that finished
(``completed_calls``); the graph hash stored with the run stops a changed
workflow from being resumed by mistake.

Writes are batched: ``append`` only buffers, and the buffer is committed a
few milliseconds later in one transaction (or at once by ``flush``). The
database runs in WAL mode with ``synchronous=NORMAL``: a committed batch
survives the process being killed; at most the last flush window (2 ms by
default) of finished calls is run again after a crash. SQLite is used
synchronously on the event loop on purpose: a WAL commit without fsync costs
tens of microseconds, less than a hop to a thread.

A run in durable mode (``journal: durable``; ``hold_durable``) closes that
window: each of its finished calls is committed (``commit_soon``) before
anything that depends on it starts, with ``synchronous=FULL``, so the commit
is on disk (fsync'd) and survives a power cut too, not only a killed
process. Calls that finish in the same turn of the event loop share one
commit, so a fan-out pays one fsync per wave rather than per call. While a
durable run is open, every commit of this connection is FULL.

The journal is kept in bounds by ``prune`` (``weft runs prune``) and, when
given ``max_bytes``, by a cap checked when a run starts and ends
(``journal_prune``): never per call, and only finished runs are deleted.

A running run holds a lease here (``lease.py``), in its own row: who runs
it, and since when it last said so. ``start_run`` writes it with the run,
``acquire_lease`` takes it for a resume (refusing while it is alive, in one
transaction), ``refresh_lease`` is the heartbeat and ``end_run`` records the
final state and gives the lease back in one statement, so a run that ends
costs no more writes than it did before leases.

The tables, and how a journal written by an older weft is brought up to
date, are ``journal_schema``'s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weft.protocols import (
    ErrorInfo,
    EventKind,
    RunEvent,
    RunNotFoundError,
    RunState,
    Usage,
    WeftError,
)
from weft.runtime.engine import journal_prune
from weft.runtime.engine.journal_schema import open_database
from weft.runtime.engine.lease import PERIOD, Lease
from weft.runtime.engine.resume_states import RESUME_STATE, journaled_data
from weft.runtime.support.flush_timer import FlushTimer
from weft.runtime.support.redaction import redactor
from weft.runtime.support.sqlite_space import PruneReport, note_cap_prune, used_bytes
from weft.runtime.support.sqlite_text import starts_with

log = logging.getLogger(__name__)

#: The environment variable with the cap of the journals weft opens itself (``recording.py``).
JOURNAL_CAP_ENV = "WEFT_JOURNAL_MAX_MB"

#: A run's lease, as columns of its row in ``runs`` (``journal_schema``).
_LEASE_FIELDS = "lease_owner, lease_host, lease_pid, lease_scope, lease_heartbeat, lease_period"
_LEASE_SET = (
    "lease_owner = ?, lease_host = ?, lease_pid = ?, lease_scope = ?, lease_heartbeat = ?,"
    " lease_period = ?"
)


_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


def _dumps(value: Any) -> str:
    """Compact JSON with secrets masked (``weft.runtime.support.redaction``): a journal is a file
    on disk like the trace store, so the same rule applies. A masked output is replayed
    masked on resume; the secret itself is never written down."""
    text = _ENCODER.encode(value)
    masker = redactor()
    if masker.needs_walk(text):
        text = _ENCODER.encode(masker.value(value))
    return text


def _usage_dict(usage: Usage) -> dict[str, Any]:
    """Only the non-zero parts: most calls use no tokens, and rows stay small."""
    return {k: v for k, v in usage.__dict__.items() if v}


def _body(
    output: Any,
    error: ErrorInfo | None,
    usage: Usage | None,
    data: dict[str, Any] | None,
    key: str | None = None,
) -> str | None:
    body: dict[str, Any] = {}
    if data and RESUME_STATE in data:  # never journaled masked: see ``resume_states``
        data = journaled_data(data, key)
    if output is not None:
        body["output"] = output
    if error is not None:
        body["error"] = error.model_dump()
    if usage is not None:
        spent = _usage_dict(usage)
        if spent:
            body["usage"] = spent
    if data:
        body["data"] = data
    return _dumps(body) if body else None


@dataclass(frozen=True)
class RunRecord:
    """One row of the runs table."""

    run_id: str
    workflow: str
    source: str | None
    graph_hash: str
    inputs: dict[str, Any]
    state: RunState
    started_at: float
    finished_at: float | None
    outputs: Any


class Journal:
    """SQLite run journal. One instance per process (or thread: its connection belongs to
    the thread that opened it), used by one event loop at a time: a loop that is done
    with it flushes it, so that no flush timer stays armed on a loop that is gone
    (runs made from Python share one so, ``recording.py``).

    ``lease_period`` is how often a run this journal records renews its lease
    (``lease.PERIOD`` seconds by default); a lease silent for three periods
    has expired. ``max_bytes`` caps the journal's size (None: no cap): when
    a run starts or ends past it, the oldest finished runs are deleted until
    it is under ``sqlite_space.CAP_TARGET`` of the cap (the journals weft opens
    itself take it from ``$WEFT_JOURNAL_MAX_MB``, ``recording.py``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval: float = 0.002,
        lease_period: float = PERIOD,
        max_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = open_database(self.path)
        self.flush_interval = flush_interval
        self.lease_period = lease_period
        self.max_bytes = max_bytes
        #: Runs in durable mode now (``hold_durable``): their finished calls are synced.
        self.durable_runs: set[str] = set()
        self._commit: asyncio.Future[None] | None = None
        #: Ids of the runs this instance started or took a lease on, oldest first:
        #: what a Ctrl-C interrupted (never "the newest run", which may be another's).
        self.opened_runs: list[str] = []
        self._buffer: list[tuple[Any, ...]] = []
        self._timer = FlushTimer(self.flush_interval, self.flush)

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """One write transaction, taking the write lock at once: the reads inside it
        (is the lease alive?) and the writes they decide cannot interleave with
        another process's."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing ----------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        workflow: str,
        source: str | None,
        graph_hash: str,
        inputs: dict[str, Any],
    ) -> Lease:
        """Record a new run, held by this process; raises ``WeftError`` if ``run_id`` is
        already in this journal.

        The run and its lease are one row, written at once: no reader ever sees
        the run running without a holder (and takes it over).
        """
        self.flush()
        self._keep_in_bounds(spare=run_id)
        lease = Lease.for_this_process(run_id, self.lease_period)
        row = (run_id, workflow, source, graph_hash, _dumps(inputs), RunState.RUNNING, time.time())
        try:
            self._db.execute(
                "INSERT INTO runs (run_id, workflow, source, graph_hash, inputs, state,"
                f" started_at, {_LEASE_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, *_lease_values(lease)),
            )
        except sqlite3.IntegrityError:
            raise WeftError(
                f"run '{run_id}' already exists in journal {self.path}; choose another run id"
            ) from None
        self.opened_runs.append(run_id)
        return lease

    def set_run_state(self, run_id: str, state: RunState, outputs: Any = None) -> None:
        self.flush()
        finished = None if state is RunState.RUNNING else time.time()
        self._db.execute(
            "UPDATE runs SET state = ?, finished_at = ?, outputs = ? WHERE run_id = ?",
            (state, finished, _dumps(outputs), run_id),
        )

    def end_run(self, lease: Lease, state: RunState, outputs: Any = None) -> bool:
        """Record the run's final state and give its lease back, in one statement.

        Returns False, writing nothing, when another process took the lease over
        (this one was silent past the grace period): the run is theirs now.
        """
        self.flush()
        finished = None if state is RunState.RUNNING else time.time()
        ended = self._db.execute(
            "UPDATE runs SET state = ?, finished_at = ?, outputs = ?, lease_owner = NULL"
            " WHERE run_id = ? AND lease_owner = ?",
            (state, finished, _dumps(outputs), lease.run_id, lease.owner),
        ).rowcount
        self._keep_in_bounds(spare=lease.run_id)
        return bool(ended)

    # -- leases -----------------------------------------------------------------

    def acquire_lease(self, run_id: str) -> tuple[Lease, Lease | None]:
        """Take the lease of a journaled run for this process, to resume it.

        Returns the new lease and the expired one it replaced, if the run was
        left running by a process that died (None when the run had ended or
        had no holder). Raises ``RunInProgressError`` naming the holder while
        its lease is alive, and ``RunNotFoundError`` for an unknown ``run_id``.
        """
        self.flush()
        lease = Lease.for_this_process(run_id, self.lease_period)
        with self._immediate():
            previous = self._running_lease(run_id)
            if previous is not None and previous.expiry_reason() is None:
                raise previous.refusal()
            self._db.execute(
                f"UPDATE runs SET {_LEASE_SET} WHERE run_id = ?", (*_lease_values(lease), run_id)
            )
        self.opened_runs.append(run_id)
        return lease, previous

    def live_lease(self, run_id: str) -> Lease | None:
        """The lease of a process running ``run_id`` now, or None: a quick check before
        slow preparations (``acquire_lease`` decides, atomically)."""
        held = self._running_lease(run_id)
        return held if held is not None and held.expiry_reason() is None else None

    def _running_lease(self, run_id: str) -> Lease | None:
        """The lease on ``run_id`` if the run is in state running. A lease left on a run
        that ended holds nothing (a test wrote the state, or a holder that ended it
        outside ``end_run``)."""
        row = self._db.execute(
            f"SELECT state, run_id, {_LEASE_FIELDS} FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run '{run_id}' in journal {self.path}")
        return _lease(row[1:]) if row[0] == RunState.RUNNING else None

    def refresh_lease(self, lease: Lease) -> bool:
        """The heartbeat: renew ``lease``; False when another process has taken it over."""
        return bool(
            self._db.execute(
                "UPDATE runs SET lease_heartbeat = ? WHERE run_id = ? AND lease_owner = ?",
                (time.time(), lease.run_id, lease.owner),
            ).rowcount
        )

    def release_lease(self, lease: Lease) -> None:
        """Give ``lease`` back without ending the run (a run that stopped on an internal
        error stays resumable at once); a lease taken over is left to its new holder."""
        self._db.execute(
            "UPDATE runs SET lease_owner = NULL WHERE run_id = ? AND lease_owner = ?",
            (lease.run_id, lease.owner),
        )

    def lease(self, run_id: str) -> Lease | None:
        """The lease on ``run_id`` (its exact id), alive or not; None if nobody holds it."""
        row = self._db.execute(
            f"SELECT run_id, {_LEASE_FIELDS} FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return None if row is None else _lease(row)

    # -- events -----------------------------------------------------------------

    def append(self, event: RunEvent) -> None:
        """Buffer an event; it is committed within ``flush_interval`` seconds."""
        self.record(
            event.run_id,
            event.at,
            event.kind,
            event.node,
            event.key,
            event.state,
            event.attempt,
            event.output,
            event.error,
            event.usage,
            event.data,
        )

    def record(
        self,
        run_id: str,
        at: float,
        kind: str,
        node: str | None,
        key: str | None,
        state: str | None,
        attempt: int | None,
        output: Any = None,
        error: ErrorInfo | None = None,
        usage: Usage | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """``append`` without building a ``RunEvent``: the executor's hot path.

        Values are kept as they are and encoded at flush time, in one batch.
        """
        self._buffer.append(
            (run_id, at, kind, node, key, state, attempt, output, error, usage, data)
        )
        self._timer.arm()

    def flush(self) -> None:
        """Encode and commit everything buffered, in one transaction."""
        self._timer.cancel()
        if not self._buffer:
            return
        pending, self._buffer = self._buffer, []
        rows = [
            (run_id, at, kind, node, key, state, attempt, _body(output, error, usage, data, key))
            for run_id, at, kind, node, key, state, attempt, output, error, usage, data in pending
        ]
        # The connection is in autocommit mode, so the batch needs an explicit
        # transaction: one commit per batch, not one per row.
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO events (run_id, at, kind, node, key, state, attempt, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- durable runs -------------------------------------------------------------

    def hold_durable(self, run_id: str) -> None:
        """Put ``run_id`` in durable mode until ``release_durable``: its finished calls are
        committed and synced before what depends on them starts (``commit_soon``)."""
        if not self.durable_runs:
            self._db.execute("PRAGMA synchronous=FULL")
        self.durable_runs.add(run_id)

    def release_durable(self, run_id: str) -> None:
        self.durable_runs.discard(run_id)
        if not self.durable_runs:
            self._db.execute("PRAGMA synchronous=NORMAL")

    def commit_soon(self) -> asyncio.Future[None]:
        """Commit everything buffered at the end of this turn of the event loop; the future
        is done when it is. Every call that finishes in this turn shares the one commit;
        each gets a shield of it, so that one caller cancelled cancels nobody else's wait."""
        waiter = self._commit
        if waiter is None:
            loop = asyncio.get_running_loop()
            waiter = self._commit = loop.create_future()
            loop.call_soon(self._group_commit)
        return asyncio.shield(waiter)

    def _group_commit(self) -> None:
        waiter, self._commit = self._commit, None
        if waiter is None:
            return
        try:
            self.flush()
        except Exception as exc:
            if not waiter.cancelled():
                waiter.set_exception(exc)
            return
        if not waiter.cancelled():
            waiter.set_result(None)

    # -- keeping it in bounds -------------------------------------------------------

    def prune(
        self, *, before: float | None = None, keep: int = 0, dry_run: bool = False
    ) -> PruneReport:
        """Delete finished runs that finished before ``before`` (a ``time.time()``; None:
        whenever) and are not among the ``keep`` most recently started runs, with their
        events, then give the space back to the disk. Running runs are never deleted
        (``journal_prune``). ``dry_run`` only says what would go."""
        self.flush()
        chosen = journal_prune.select(self._db, finished_before=before, keep=keep)
        return journal_prune.prune(self._db, self.path, chosen, dry_run)

    def size(self) -> int:
        """Bytes of the journal in use (what ``max_bytes`` is compared with)."""
        self.flush()
        return used_bytes(self._db)

    def _keep_in_bounds(self, spare: str) -> None:
        """Past ``max_bytes``, delete the oldest finished runs (never ``spare``, the run
        starting or ending): once a run, never per call."""
        if not self.max_bytes:
            return
        report = journal_prune.shrink(self._db, self.path, self.max_bytes, spare=(spare,))
        if report is not None:
            note_cap_prune(log, "journal", self.path, self.max_bytes, report, JOURNAL_CAP_ENV)

    def close(self) -> None:
        self.flush()
        self._db.close()

    # -- reading ----------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord:
        self.flush()
        row = self._db.execute(
            "SELECT run_id, workflow, source, graph_hash, inputs, state, started_at,"
            " finished_at, outputs FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            condition, params = starts_with("run_id", run_id)
            matches = self._db.execute(
                f"SELECT run_id FROM runs WHERE {condition} LIMIT 6", params
            ).fetchall()
            if len(matches) == 1:
                return self.get_run(matches[0][0])
            if matches:
                ids = ", ".join(m[0] for m in matches[:5])
                raise RunNotFoundError(f"run id prefix '{run_id}' is ambiguous: {ids}")
            raise RunNotFoundError(f"no run '{run_id}' in journal {self.path}")
        return _record(row)

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        self.flush()
        rows = self._db.execute(
            "SELECT run_id, workflow, source, graph_hash, inputs, state, started_at,"
            " finished_at, outputs FROM runs ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_record(r) for r in rows]

    def events(self, run_id: str) -> Iterator[RunEvent]:
        self.flush()
        cursor = self._db.execute(
            f"SELECT {_EVENT_FIELDS} FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
        )
        for row in cursor:
            yield _event(run_id, row)

    def completed_calls(self, run_id: str) -> dict[str, Any]:
        """Outputs of every call that finished successfully, by execution key."""
        self.flush()
        done: dict[str, Any] = {}
        cursor = self._db.execute(
            "SELECT key, body FROM events WHERE run_id = ? AND kind = ? AND state = ? ORDER BY seq",
            (run_id, EventKind.NODE_FINISHED, "succeeded"),
        )
        for key, body in cursor:
            done[key] = json.loads(body).get("output") if body else None
        return done

    def answers(self, run_id: str) -> dict[str, list[Any]]:
        """The answers given to the run's questions, by execution key, in the order given."""
        self.flush()
        given: dict[str, list[Any]] = {}
        cursor = self._db.execute(
            "SELECT key, body FROM events WHERE run_id = ? AND kind = ? ORDER BY seq",
            (run_id, EventKind.ANSWER),
        )
        for key, body in cursor:
            given.setdefault(key, []).append(json.loads(body).get("data", {}).get("answer"))
        return given

    def resume_states(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The state each call left waiting for an answer saved to go on from
        (``ActionResult.resume_state``), by execution key: only keys whose latest
        ``node_finished`` is ``needs_input`` with a saved state (a journal written
        before states were saved has none, and its calls start again)."""
        states: dict[str, dict[str, Any]] = {}
        for key, event in self.last_finished(run_id).items():
            saved = event.data.get(RESUME_STATE) if event.state == "needs_input" else None
            if isinstance(saved, dict):
                states[key] = saved
        return states

    def last_finished(self, run_id: str) -> dict[str, RunEvent]:
        """Each execution key's latest ``node_finished`` event: what state it was left in."""
        self.flush()
        cursor = self._db.execute(
            f"SELECT {_EVENT_FIELDS} FROM events WHERE run_id = ? AND kind = ? ORDER BY seq",
            (run_id, EventKind.NODE_FINISHED),
        )
        latest: dict[str, RunEvent] = {}
        for row in cursor:
            event = _event(run_id, row)
            latest[event.key or ""] = event
        return latest


#: The columns ``_event`` reads, in its order.
_EVENT_FIELDS = "at, kind, node, key, state, attempt, body"


def _event(run_id: str, row: tuple[Any, ...]) -> RunEvent:
    """The ``RunEvent`` an ``events`` row of ``_EVENT_FIELDS`` holds."""
    at, kind, node, key, state, attempt, body = row
    extra = json.loads(body) if body else {}
    return RunEvent(
        run_id=run_id,
        kind=EventKind(kind),
        at=at,
        node=node,
        key=key,
        state=state,
        attempt=attempt,
        output=extra.get("output"),
        error=extra.get("error"),
        usage=extra.get("usage"),
        data=extra.get("data", {}),
    )


def _lease_values(lease: Lease) -> tuple[Any, ...]:
    """The lease's columns, in ``_LEASE_FIELDS`` order."""
    return (lease.owner, lease.host, lease.pid, lease.scope, lease.heartbeat, lease.period)


def _lease(row: tuple[Any, ...]) -> Lease | None:
    """A lease from ``run_id`` and the ``_LEASE_FIELDS`` columns; None when nobody holds it."""
    run_id, owner, host, pid, scope, heartbeat, period = row
    if owner is None:
        return None
    return Lease(run_id, owner, host, pid, scope, heartbeat, period)


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, workflow, source, graph_hash, inputs, state, started, finished, outputs = row
    return RunRecord(
        run_id=run_id,
        workflow=workflow,
        source=source,
        graph_hash=graph_hash,
        inputs=json.loads(inputs),
        state=RunState(state),
        started_at=started,
        finished_at=finished,
        outputs=json.loads(outputs) if outputs else None,
    )
