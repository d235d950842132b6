"""Where a run is recorded: the journal and trace store by default, kept open and shared.

``weft run`` journals every run to ``$WEFT_HOME/journal.db`` and traces it
to ``$WEFT_HOME/traces.db`` (plus OTLP when configured); ``run_workflow``,
``run_sync`` and ``resume_run`` do the same unless told not to, so ``weft
runs``, ``weft trace show last`` and ``weft resume`` see a script's runs as
they see the CLI's. ``record=False``, or ``WEFT_RECORD=0`` in the
environment, turns both defaults off; a ``Journal`` or ``Tracer`` the caller
passes is used whatever the switch says, and stays the caller's to close.

The stores the runner opens itself are kept open and shared rather than
opened and closed per run: closing the last connection to a SQLite file that
was written checkpoints it with an fsync, which costs ten times what a small
run does, and a process that calls ``run_sync`` thousands of times must not
hold thousands of files, writer processes or OTLP exporter threads either.
So each thread keeps one store per file (an SQLite connection belongs to the
thread that opened it), shared by every run on that thread, concurrent on
one loop or one ``run_sync`` after another. Each ``run_sync`` has a loop of
its own, so a store is flushed whenever a run ends: no flush timer stays
armed on a loop that is gone. A thread's stores are closed when the thread
ends, the main thread's at interpreter exit; a store for another file (a new
``WEFT_HOME``) replaces the idle one of its kind, and a file that was deleted
or a process that forked gets a store opened afresh.

The stores opened here (for the CLI too) are capped in size: the journal by
``$WEFT_JOURNAL_MAX_MB``, the trace store by ``$WEFT_TRACES_MAX_MB`` (1024 MB
each by default, ``0`` for no cap). Past its cap, a store deletes its oldest
finished runs when a run starts or ends (``Journal.max_bytes``,
``TraceStore``). A ``Journal`` or ``TraceStore`` made by the caller has the
cap it was given, none by default.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weft.protocols import WeftError
from weft.runtime.engine.journal import JOURNAL_CAP_ENV, Journal
from weft.runtime.support.home import default_journal_path, default_trace_path
from weft.runtime.support.storage import storage_errors
from weft.runtime.tracing.spans import Tracer

log = logging.getLogger(__name__)

#: The environment variable that turns recording off for runs made from Python.
RECORD_ENV = "WEFT_RECORD"
_ON = frozenset({"", "1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})

#: How a Python caller uses other files, or none (the tail of a ``StorageError``).
JOURNAL_HINT = "another with journal=PATH or WEFT_HOME, or record=False (WEFT_RECORD=0)"
TRACES_HINT = "another folder with WEFT_HOME, or record=False (WEFT_RECORD=0)"

#: ``journal=``: a journal (the caller's), a path or True (kept here), False or None.
JournalOption = Journal | str | Path | bool | None
#: ``tracer=``: a tracer (the caller's), True (the default one, kept here), False or None.
TracerOption = Tracer | bool | None


def recording_default() -> bool:
    """Whether runs made from Python are recorded when nothing says: ``$WEFT_RECORD``, on
    unless it is ``0``, ``false``, ``no`` or ``off``. ``WeftError`` for any other value."""
    value = os.environ.get(RECORD_ENV, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise WeftError(
        f"{RECORD_ENV}={value!r}: use 1 to record runs made from Python "
        "(journal and traces under WEFT_HOME) or 0 not to"
    )


#: The cap of each store when its variable is not set, in MB.
DEFAULT_CAP_MB = 1024.0


def store_cap(variable: str, default_mb: float = DEFAULT_CAP_MB) -> int | None:
    """The cap in bytes that ``$variable`` gives in MB (``default_mb`` when unset), None for
    ``0``: no cap. ``WeftError`` for anything but a number of MB >= 0."""
    raw = os.environ.get(variable, "").strip()
    try:
        megabytes = float(raw) if raw else default_mb
    except ValueError:
        megabytes = -1.0
    if not math.isfinite(megabytes) or megabytes < 0:
        raise WeftError(f"{variable}={raw!r}: expected a size in MB such as 512 (0 for no cap)")
    return None if megabytes == 0 else max(1, int(megabytes * 2**20))


def open_journal(path: str | Path | None = None, *, hint: str = JOURNAL_HINT) -> Journal:
    """The journal at ``path``, else the default one (``$WEFT_HOME/journal.db``), capped by
    ``$WEFT_JOURNAL_MAX_MB``.

    A file that cannot be used is one ``StorageError`` ending in ``use {hint}``.
    """
    target = path or default_journal_path()
    cap = store_cap(JOURNAL_CAP_ENV)
    with storage_errors("the journal", target, hint):
        return Journal(target, max_bytes=cap)


def open_tracer(path: str | Path | None = None, *, hint: str = TRACES_HINT) -> Tracer:
    """The trace store at ``path``, else the default one (``$WEFT_HOME/traces.db``), plus
    OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (``open_default_tracer``); capped by
    ``$WEFT_TRACES_MAX_MB``."""
    from weft.runtime.tracing.store import TRACES_CAP_ENV, open_default_tracer

    target = path or default_trace_path()
    cap = store_cap(TRACES_CAP_ENV)
    with storage_errors("the trace store", target, hint):
        return open_default_tracer(target, max_bytes=cap)


def _default_on(record: bool | None) -> bool:
    return recording_default() if record is None else record


@contextmanager
def recording(
    journal: JournalOption, tracer: TracerOption, record: bool | None
) -> Iterator[tuple[Journal | None, Tracer | None]]:
    """The journal and tracer of one run; the ones kept here are flushed when it ends.

    ``None`` for ``journal`` or ``tracer`` means the default store when
    ``record`` is true or, with ``record=None``, when ``$WEFT_RECORD`` is not
    off; ``True`` (or, for the journal, a path) asks for it whatever ``record``
    says; ``False`` for none. Anything else is the caller's object, used as it is.
    """
    stores = _thread_stores()
    with ExitStack() as held:

        def keep(kind: str, path: str | Path, opener: Callable[[str], Any]) -> Any:
            where = os.path.abspath(path)
            kept = stores.acquire(kind, where, lambda: opener(where))
            held.callback(stores.release, kept)
            return kept.resource

        chosen_journal: Journal | None = None
        if isinstance(journal, str | Path):
            chosen_journal = keep("journal", journal, open_journal)
        elif journal is True or (journal is None and _default_on(record)):
            chosen_journal = keep("journal", default_journal_path(), open_journal)
        elif journal is not None and journal is not False:
            chosen_journal = journal
        chosen_tracer: Tracer | None = None
        if tracer is True or (tracer is None and _default_on(record)):
            chosen_tracer = keep("traces", default_trace_path(), open_tracer)
        elif tracer is not None and tracer is not False:
            chosen_tracer = tracer
        yield chosen_journal, chosen_tracer


@dataclass(eq=False)
class _Kept:
    """A store kept open for the runs of one thread."""

    kind: str
    path: str
    resource: Any  # Journal | Tracer: both flush and close
    #: ``(st_dev, st_ino)`` of the file when it was opened: a file deleted or replaced since
    #: is opened afresh rather than written through a connection to what is gone.
    file: tuple[int, int] | None
    pid: int
    users: int = 0

    def current(self) -> bool:
        if self.pid != os.getpid():
            return False
        return self.file is not None and _identity(self.path) == self.file


def _identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


class _ThreadStores:
    """The stores the runs of one thread share, by kind and absolute path."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], _Kept] = {}

    def acquire(self, kind: str, path: str, opener: Callable[[], Any]) -> _Kept:
        key = (kind, path)
        kept = self.kept.get(key)
        if kept is not None and not kept.current():
            del self.kept[key]
            if not kept.users:
                _close(kept)
            kept = None
        if kept is None:
            self._close_idle(kind)
            kept = _Kept(kind, path, opener(), _identity(path), os.getpid())
            self.kept[key] = kept
        kept.users += 1
        return kept

    def release(self, kept: _Kept) -> None:
        """One run is done with ``kept``: commit what it buffered (it may be the loop's last)."""
        kept.users -= 1
        if kept.users:
            kept.resource.flush()
            return
        try:
            kept.resource.flush()
        finally:
            if isinstance(kept.resource, Journal):
                kept.resource.opened_runs.clear()  # no owner to tell what it interrupted
            if self.kept.get((kept.kind, kept.path)) is not kept:
                _close(kept)  # replaced while this run used it

    def _close_idle(self, kind: str) -> None:
        for key, kept in list(self.kept.items()):
            if key[0] == kind and not kept.users:
                del self.kept[key]
                _close(kept)


_local = threading.local()


def _thread_stores() -> _ThreadStores:
    stores: _ThreadStores | None = getattr(_local, "stores", None)
    if stores is None:
        stores = _local.stores = _ThreadStores()
        # A thread-local goes when its thread ends, on that thread: the connections
        # are closed where they were opened. (At interpreter exit, not by this.)
        weakref.finalize(stores, _close_all, stores.kept).atexit = False
        if threading.current_thread() is threading.main_thread():
            # Registered after a finalizer exists, so it runs before weakref's own
            # exit hook (atexit is last in, first out): a trace writer process's pipe
            # is still open when its store closes.
            atexit.register(_close_all, stores.kept)
    return stores


def _close_all(kept: dict[tuple[str, str], _Kept]) -> None:
    while kept:
        _close(kept.popitem()[1])


def _close(kept: _Kept) -> None:
    """Close a store that no run uses; a failure is logged, never raised (it is not the
    fault of the run at hand, and at exit there is nobody to raise it to)."""
    if kept.pid != os.getpid():
        return  # the parent's connection, inherited by fork: the parent closes it
    try:
        kept.resource.close()
    except Exception as exc:
        log.warning("could not close %s %s: %s", kept.kind, kept.path, exc)
