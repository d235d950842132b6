"""The "did you mean" hint of a misspelt name, said one way wherever weft says it.

Every message that names something unknown (an action, a node, a field, an
attribute of a tools module, a conversation) suggests the names it was probably
meant to be, quoted as the message quotes the unknown one:
``unknown action 'uper' (did you mean 'upper'?)``. Here because ``protocols``
is the layer every other one may import; nothing here does I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

#: Names up to this long are also matched by edit distance (``close_names``).
SHORT_NAME = 4


def close_names(
    name: str, candidates: Iterable[str], n: int = 3, *, cutoff: float = 0.6
) -> list[str]:
    """The names among ``candidates`` that ``name`` is probably a misspelling of, closest first.

    ``difflib``'s ratio with its usual 0.6 cutoff finds misspellings of longer
    names, but between short ones a single typo costs most of the ratio
    (``aa`` against ``ab`` is 0.5), so a name of up to ``SHORT_NAME``
    characters also matches every candidate one edit away (an insertion,
    deletion, substitution or swap of neighbours: ``aa`` → ``a``, ``ab``) that
    shares a letter with it (``b`` is one edit from ``a`` too, but no typo of it).
    ``candidates`` may be any iterable (a set, a dict's keys); its order does not
    change the answer.
    """
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name, pool, n=n, cutoff=cutoff)
    if len(name) <= SHORT_NAME:
        near = [
            c
            for c in pool
            if c not in close and set(c) & set(name) and _edit_distance(name, c) <= 1
        ]
        close = sorted(close + near, key=lambda c: _edit_distance(name, c))
    return close[:n]


def meant(close: Sequence[str]) -> str:
    """``did you mean 'a', 'b' or 'c'?`` for the names ``close`` (closest first), or ``""``.

    For a site that picks the names its own way (case-insensitively, say) but
    words the hint as everywhere else; ``did_you_mean`` is the usual entry.
    """
    if not close:
        return ""
    quoted = [f"'{c}'" for c in close]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"did you mean {listed}?"


def did_you_mean(
    name: str, candidates: Iterable[str], *, n: int = 3, cutoff: float = 0.6, then: str = ""
) -> str:
    """`` (did you mean 'a' or 'b'?)`` naming up to ``n`` ``close_names`` of ``name``, or ``""``.

    ``then`` is more to say in the same parenthesis, said with or without a
    match: ``then="known: a, b"`` gives `` (did you mean 'a'? known: a, b)``, or
    `` (known: a, b)`` when nothing is close.
    """
    parts = [p for p in (meant(close_names(name, candidates, n, cutoff=cutoff)), then) if p]
    return f" ({' '.join(parts)})" if parts else ""


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: Levenshtein plus swaps of two neighbours."""
    if abs(len(a) - len(b)) > 1:
        return abs(len(a) - len(b))  # a lower bound, and enough to rule it out
    rows = [list(range(len(b) + 1))]
    for i, x in enumerate(a, start=1):
        row = [i]
        for j, y in enumerate(b, start=1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]
