"""Which run ``weft resume RUN`` means: an id, a unique prefix of one, or ``last``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.protocols import WeftError

if TYPE_CHECKING:  # the CLI imports the runtime lazily, when a command runs
    from weft.runtime.engine.journal import Journal, RunRecord


def run_record(journal: Journal, ref: str) -> RunRecord:
    """The ``RunRecord`` of ``ref`` in ``journal``; ``WeftError`` if there is none.

    ``last`` is the newest run the journal holds (the first row of ``weft runs``),
    as ``weft trace show last`` is the newest traced one: what a user types after
    a run was stopped. It is a word, not an id: a run started with ``--run-id
    last`` is resumed by its id only when it is the newest. What ``weft resume``
    refuses for an id (a run that succeeded, one another process still runs) it
    refuses for ``last`` alike.
    """
    if ref != "last":
        return journal.get_run(ref)
    newest = journal.list_runs(1)
    if not newest:
        raise WeftError(f"no runs in journal {journal.path} yet")
    return newest[0]
