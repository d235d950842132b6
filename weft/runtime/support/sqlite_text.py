"""Text matching in SQLite that means what it says, for lookups by a user-typed prefix.

``weft resume 3f2a``, ``weft runs 3f2a`` and ``weft trace show 3f2a`` accept
the start of a run id. ``LIKE`` is the obvious tool and the wrong one: ``_``
and ``%`` in the prefix are wildcards unless escaped, and it ignores ASCII
case, so the prefix ``run_A`` would match ``runXa...``. Comparing the leading
characters is exact for any text, needs no escaping, and costs the same scan.
"""

from __future__ import annotations


def starts_with(column: str, prefix: str) -> tuple[str, tuple[int, str]]:
    """A ``WHERE`` condition true exactly when ``column`` starts with ``prefix``, and its
    parameters.

    ``column`` is pasted into the SQL, so it must be a name written in the
    code, never user input; ``prefix`` is bound as a parameter. SQLite's
    ``substr`` and Python's ``len`` both count characters (code points).
    """
    return f"substr({column}, 1, ?) = ?", (len(prefix), prefix)
