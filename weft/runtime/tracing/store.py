"""The local trace store: every span of every run, in SQLite, written in batches.

``record`` only appends the span to a buffer; a short while later, or at once
by ``flush`` (the executor flushes when a run ends), the buffer is encoded
(``span_codec``) and handed to a writer, which truncates and redacts it and
commits it in one transaction. Spans are stored as one JSON array per run and
flush, not one row per span: reads are always "every span of a run", and a
row per span costs more to insert than a no-op node costs to run. The
``spans`` view unpacks them for ad-hoc SQL
(``SELECT name, duration FROM spans WHERE run_id = ...``).

Encoding stays in the run's process: it needs the run's objects. Checking and
committing, about half of what a span costs, move to a writer process of the
store's own (``trace_writer``) once the store has written enough spans for
one to be worth starting; until then, or if it cannot run, the store does
them itself. ``sync`` waits until everything handed over is committed, and
every read syncs first. Several processes (a ``weft run`` and remote agent
hosts) may write the same file; a run's spans are gathered by run id
whoever wrote them.

The store is kept in bounds by ``prune`` (``weft trace prune``) and, given
``max_bytes``, by a cap checked when the store opens and when a run's span
(the end of a run) is flushed: the oldest finished traces go first
(``_prune``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from weft.protocols import WeftError
from weft.runtime.support.flush_timer import FlushTimer
from weft.runtime.support.home import default_trace_path
from weft.runtime.support.logging import get_logger
from weft.runtime.support.sqlite_space import (
    PruneReport,
    compact,
    file_bytes,
    note_cap_prune,
    used_bytes,
)
from weft.runtime.support.sqlite_text import starts_with
from weft.runtime.tracing import _db as trace_db
from weft.runtime.tracing import _prune
from weft.runtime.tracing.span_codec import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MAX_CONTENT_CHARS,
    EncodedBatch,
    NodeRows,
    SpanCodec,
    decode_document,
)
from weft.runtime.tracing.spans import NodeGroup, NodeRow, SpanRecord, Tracer
from weft.runtime.tracing.writer import (
    InlineWriter,
    ProcessWriter,
    TraceWriter,
    WriterGone,
    WriterSettings,
    WriterStats,
)
from weft.workflows.gc_pause import gc_paused

_log = get_logger("weft.traces")
#: Node spans written in this process before ``writer="auto"`` starts a writer process.
PROCESS_AFTER_ROWS = 2000
#: The environment variable with the cap of the trace store weft opens for runs
#: (``engine.recording``).
TRACES_CAP_ENV = "WEFT_TRACES_MAX_MB"


@dataclass(frozen=True)
class TraceRun:
    """One run as the trace store knows it (``state`` is ``running`` until its run span ends)."""

    run_id: str
    trace_id: str
    workflow: str | None
    state: str
    started_at: float
    finished_at: float | None
    span_count: int
    usage: dict[str, Any] = field(default_factory=dict)
    graph_hash: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


class TraceStore(Tracer):
    """SQLite trace store: a ``Tracer`` for writing and a small read API for the CLI and views.

    One instance per process and event loop. ``max_chars`` caps each
    attribute value's JSON size, ``max_content_chars`` that of an LLM
    request's messages and of its reply (``span_codec``); ``flush_interval``
    is how long a span may wait in memory; more than ``max_buffer`` waiting
    spans are handed over at once.

    ``writer`` says where spans are checked and committed: ``"process"``, a
    writer process, which takes about half of tracing's cost per node off the
    run; ``"inline"``, this process; ``"auto"`` (the default), this process
    until ``PROCESS_AFTER_ROWS`` node spans have been written, then a writer
    process. Starting one costs a Python interpreter (about 0.25 s of CPU,
    waited for at ``close``), more than a small run's spans cost to write.

    ``max_bytes`` caps the store's size (None: no cap; see the module docstring).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval: float = 0.05,
        max_buffer: int = 4096,
        max_chars: int = DEFAULT_MAX_CHARS,
        max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS,
        codec: SpanCodec | None = None,
        writer: Literal["auto", "process", "inline"] = "auto",
        max_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = trace_db.connect(self.path)
        self.codec = codec or SpanCodec(max_chars=max_chars, max_content_chars=max_content_chars)
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.writer_kind = writer
        #: Batches and node rows handed to the writer so far.
        self.batches_flushed = 0
        self.rows_flushed = 0
        self._writer: TraceWriter | None = None
        self._process_failed = False
        self._buffer: list[SpanRecord] = []
        self._rows: NodeRows = {}
        self._graphs_sent: set[str] = set()
        #: The workflow of each run begun here and not ended yet (``begin_run``), by id.
        self._names: dict[str, str] = {}
        self._errors_logged: set[str] = set()
        self._timer = FlushTimer(self.flush_interval, self.flush)
        self._closed = False
        self.max_bytes = max_bytes
        self._keep_in_bounds()

    # -- writing (Tracer) ------------------------------------------------------------

    def record(self, span: SpanRecord) -> None:
        """Buffer a finished span; it is written within ``flush_interval`` seconds."""
        buffer = self._buffer
        buffer.append(span)
        if self._timer.armed:
            if len(buffer) >= self.max_buffer:
                self.flush()
        else:
            self._timer.arm()

    def record_node(self, group: NodeGroup, row: NodeRow) -> None:
        """Buffer a node's span row (``tracing.NODE_ROW``) as it is: it is encoded untouched."""
        rows = self._rows.get(group)
        if rows is None:
            # The first row of a group since the last flush: the buffer was empty or
            # held other groups, so the timer may not be running yet.
            rows = self._rows[group] = []
            if not self._timer.armed:
                self._timer.arm()
        rows.append(row)
        if len(rows) >= self.max_buffer:
            self.flush()

    def begin_run(self, run_id: str, workflow: str) -> None:
        """Remember the run's workflow: its rows name it while it runs (``weft trace ls``).

        Nothing is written now: a run is listed once its first spans are."""
        self._names[run_id] = workflow

    def flush(self) -> None:
        """Encode everything buffered and hand it to the writer (``sync`` waits for the commit)."""
        self._timer.cancel()
        if not (self._buffer or self._rows) or self._closed:
            return
        spans, self._buffer = self._buffer, []
        rows, self._rows = self._rows, {}
        self.rows_flushed += sum(map(len, rows.values()))
        # Encoding makes only acyclic garbage (lists, strings); a collection
        # triggered by it would scan the whole heap for nothing.
        with gc_paused():
            batch = self.codec.encode_batch(spans, rows)
        batch.runs = _run_rows(batch, self._names)
        for span in batch.run_spans:  # ended: its run span names it from now on
            self._names.pop(span.run_id or span.trace_id, None)
        new_graphs = batch.graphs.keys() - self._graphs_sent
        batch.graphs = {h: batch.graphs[h] for h in new_graphs}
        self._hand_over(batch)
        self._graphs_sent.update(new_graphs)
        self.batches_flushed += 1
        if batch.run_spans:  # a run ended: the one time per run the cap is looked at
            self._keep_in_bounds()

    def sync(self) -> WriterStats:
        """Flush, then wait until every batch handed over is committed; what the writer did.

        A batch the writer could not commit (a database locked past its busy
        timeout, a full disk) is kept for another try and logged once.
        """
        self.flush()
        if self._writer is None:
            return WriterStats(batches=0, checkpoints=0)
        try:
            stats = self._writer.sync()
        except WriterGone as exc:
            self._fall_back(exc)
            stats = self._writer_now().sync()
        if stats.error and stats.error not in self._errors_logged:
            self._errors_logged.add(stats.error)
            _log.warning("trace batch not written", error=stats.error, pending=stats.pending)
        return stats

    def close(self) -> None:
        if self._closed:
            return
        if self._writer is not None or self._buffer or self._rows:
            self.sync()  # so that a batch that could not be written is logged
        self._closed = True
        if self._writer is not None:
            self._writer.close()
        self._db.close()

    def _hand_over(self, batch: EncodedBatch) -> None:
        try:
            self._writer_now().write(batch)
        except WriterGone as exc:
            self._fall_back(exc)
            self._writer_now().write(batch)

    def _writer_now(self) -> TraceWriter:
        """The writer for the next batch (see ``writer`` in the class docstring)."""
        writer = self._writer
        wants_process = self.writer_kind == "process" or (
            self.writer_kind == "auto"
            and self.rows_flushed >= PROCESS_AFTER_ROWS
            and os.name == "posix"  # the writer's pipes are select()ed
        )
        if wants_process and not isinstance(writer, ProcessWriter) and not self._process_failed:
            if writer is not None:
                writer.close()  # its batches are committed: it writes synchronously
            try:
                writer = ProcessWriter(WriterSettings.current(self.path), self.codec)
            except OSError as exc:
                self._process_failed = True
                writer = None
                _log.warning("trace writer process not started; writing here", error=str(exc))
            self._writer = writer
        if writer is None:
            writer = self._writer = self._inline_writer()
        return writer

    def _fall_back(self, exc: WriterGone) -> None:
        """The writer process is gone: write in this process from now on."""
        _log.warning("trace writer process gone; writing here", error=str(exc))
        self._process_failed = True
        dead, self._writer = self._writer, self._inline_writer()
        if dead is not None:
            with contextlib.suppress(OSError):
                dead.close()

    def _inline_writer(self) -> InlineWriter:
        return InlineWriter(WriterSettings.current(self.path), self.codec)

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------

    def runs(self, limit: int = 20) -> list[TraceRun]:
        """The most recent runs first."""
        self.sync()
        rows = self._db.execute(
            "SELECT run_id, trace_id, workflow, state, started_at, finished_at, span_count,"
            " usage, graph_hash FROM trace_runs ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_trace_run(row) for row in rows]

    def get_run(self, ref: str) -> TraceRun:
        """A run by id, unique id prefix, or ``last``; ``WeftError`` if none or ambiguous."""
        self.sync()
        columns = (
            "SELECT run_id, trace_id, workflow, state, started_at, finished_at, span_count,"
            " usage, graph_hash FROM trace_runs"
        )
        if ref == "last":
            rows = self._db.execute(columns + " ORDER BY started_at DESC LIMIT 1").fetchall()
            if not rows:
                raise WeftError(f"no runs in trace store {self.path} yet")
            return _trace_run(rows[0])
        row = self._db.execute(columns + " WHERE run_id = ?", (ref,)).fetchone()
        if row is not None:
            return _trace_run(row)
        condition, params = starts_with("run_id", ref)
        rows = self._db.execute(f"{columns} WHERE {condition} LIMIT 6", params).fetchall()
        if len(rows) == 1:
            return _trace_run(rows[0])
        if not rows:
            raise WeftError(f"no run '{ref}' in trace store {self.path}")
        ids = ", ".join(r[0] for r in rows[:5])
        raise WeftError(f"run id prefix '{ref}' is ambiguous: {ids}")

    def spans(self, run_id: str) -> list[SpanRecord]:
        """Every stored span of a run, ordered by start time (attributes are JSON-native)."""
        self.sync()
        rows = self._db.execute(
            "SELECT spans FROM span_batches WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        spans = [span for (text,) in rows for span in decode_document(run_id, text)]
        spans.sort(key=lambda s: (s.start, s.end))
        for span in spans:
            if span.kind == "run" and span.attributes.get("weft.graph", ...) is None:
                outline = self._outline(span.attributes.get("graph_hash"))
                if outline is not None:
                    span.attributes["weft.graph"] = outline
        return spans

    def _outline(self, graph_hash: Any) -> dict[str, Any] | None:
        """The workflow outline stored for ``graph_hash``, if any."""
        if not isinstance(graph_hash, str):
            return None
        row = self._db.execute(
            "SELECT outline FROM graphs WHERE graph_hash = ?", (graph_hash,)
        ).fetchone()
        return None if row is None else cast(dict[str, Any], json.loads(row[0]))

    def delete(self, run_ids: Iterable[str]) -> int:
        """Forget runs and their spans; returns how many runs were removed."""
        return len(self._delete(list(run_ids))[0])

    def _delete(self, run_ids: list[str]) -> tuple[list[str], int]:
        """Delete runs and their spans in one transaction: the runs deleted, and their batches."""
        self.sync()
        removed: list[str] = []
        batches = 0
        with self._db:
            self._db.execute("BEGIN")
            for run_id in run_ids:
                batches += self._db.execute(
                    "DELETE FROM span_batches WHERE run_id = ?", (run_id,)
                ).rowcount
                if self._db.execute("DELETE FROM trace_runs WHERE run_id = ?", (run_id,)).rowcount:
                    removed.append(run_id)
            # Outlines no remaining run refers to go too.
            self._db.execute(
                "DELETE FROM graphs WHERE graph_hash NOT IN"
                " (SELECT graph_hash FROM trace_runs WHERE graph_hash IS NOT NULL)"
            )
        self._graphs_sent.clear()
        return removed, batches

    # -- keeping it in bounds ----------------------------------------------------------

    def prune(
        self, *, before: float | None = None, keep: int = 0, dry_run: bool = False
    ) -> PruneReport:
        """Delete the traces of runs that finished before ``before`` (a ``time.time()``; None:
        whenever), and, given a time, of unfinished runs nothing was written for since, except
        the ``keep`` most recently started; then give the space back to the disk.
        ``dry_run`` only says what would go."""
        self.sync()
        chosen = _prune.select(self._db, before=before, keep=keep)
        report = PruneReport(bytes_before=file_bytes(self.path), dry_run=dry_run)
        if dry_run:
            report.run_ids, report.rows = chosen, _prune.count_batches(self._db, chosen)
            report.bytes_after = report.bytes_before
            return report
        if chosen:
            report.run_ids, report.rows = self._delete(chosen)
            report.compacted = compact(self._db)
        report.bytes_after = file_bytes(self.path)
        return report

    def size(self) -> int:
        """Bytes of the store in use (what ``max_bytes`` is compared with)."""
        self.sync()
        return used_bytes(self._db)

    def _keep_in_bounds(self) -> None:
        if not self.max_bytes or self._closed:
            return
        report = _prune.shrink(self._db, self.path, self.max_bytes, self._delete)
        if report is not None:
            note_cap_prune(_log, "trace store", self.path, self.max_bytes, report, TRACES_CAP_ENV)


def _run_rows(batch: EncodedBatch, names: dict[str, str]) -> list[dict[str, Any]]:
    """``trace_runs`` upserts for a batch: span counts, the workflow of a run still going
    (``names``, from ``begin_run``), and a run's outcome from its run span."""
    rows: dict[str, dict[str, Any]] = {}
    for key, count in batch.counts.items():
        run_id, trace_id = key
        started = batch.starts[key]
        row = rows.get(run_id)
        if row is None:
            rows[run_id] = {
                "run_id": run_id,
                "trace_id": trace_id,
                "workflow": names.get(run_id),
                "state": "running",
                "started_at": started,
                "finished_at": None,
                "span_count": count,
                "usage": None,
                "graph_hash": None,
            }
        else:
            row["span_count"] += count
            row["started_at"] = min(row["started_at"], started)
    for span in batch.run_spans:
        usage = span.attributes.get("usage")
        if usage is not None and not isinstance(usage, dict):
            usage = usage.model_dump() if hasattr(usage, "model_dump") else None
        rows[span.run_id or span.trace_id].update(
            workflow=span.name,
            state=span.status,
            finished_at=span.end,
            usage=json.dumps(usage or {}),
            graph_hash=span.attributes.get("graph_hash"),
        )
    return list(rows.values())


def _trace_run(row: tuple[Any, ...]) -> TraceRun:
    run_id, trace_id, workflow, state, started, finished, count, usage, graph_hash = row
    return TraceRun(
        run_id=run_id,
        trace_id=trace_id,
        workflow=workflow,
        state=state,
        started_at=started,
        finished_at=finished,
        span_count=count,
        usage=json.loads(usage) if usage else {},
        graph_hash=graph_hash,
    )


def open_default_tracer(path: str | Path | None = None, *, max_bytes: int | None = None) -> Tracer:
    """The tracer the CLI uses: the local store, plus OTLP when an endpoint is configured.

    OTLP is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set; nothing leaves the machine otherwise.
    ``max_bytes`` caps the store (``TraceStore``).
    """
    from weft.runtime.tracing.otlp import otlp_configured

    store = TraceStore(path or default_trace_path(), max_bytes=max_bytes)
    if not otlp_configured():
        return store
    from weft.runtime.tracing.otlp import OtlpTracer
    from weft.runtime.tracing.spans import FanOutTracer

    try:
        exporter = OtlpTracer()
    except BaseException:
        store.close()  # the exporter is missing: no writer may be left behind
        raise
    return FanOutTracer(store, exporter)
