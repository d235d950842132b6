"""Checking, before a team or cluster says a word, that every name it will call is an action.

Members, pool replacements, a cluster's synthesizer and an ``llm:<action>``
speaker rule may be given by name; the name is resolved only when it is
called, through the context's ``invoke``. A misspelt synthesizer would thus
fail only after every draft and refinement round had been paid for, and a
misspelt pool entry only when a member dies. ``unknown_name_failure`` looks
every name up first and answers with one ``UnknownAction`` failure naming
the unknown name, the closest known names first, and (for a workflow node)
the file, line and node it came from.

The names a context can call are the keys of the registry behind it, not the
names in ``ctx.actions()``: an action object registered under another name
(``fed: {python: "weft.runtime.teams:cluster_action"}``) is called by its
key, while its spec keeps its own name. A context whose registry cannot be
read (an ``ActionContext`` of someone else's making) is not checked here: its
names still fail, later, when called.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from weft.protocols import ActionCall, ActionResult
from weft.protocols.hints import did_you_mean
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.execution_context import ExecutionContext
from weft.runtime.teams.arguments import located
from weft.runtime.teams.local_context import LocalContext
from weft.runtime.teams.member import MemberContext, TeamMember

#: Known names listed in an error at most; the rest are counted.
SHOWN_NAMES = 12


@dataclass(frozen=True)
class Named:
    """A name a team will call, and where in its arguments it was given.

    ``role`` is what the name is for (``member``, ``synthesizer``); ``field``
    is the argument it was given in (``members[1]``, ``pools.bob[0]``);
    ``path`` is that place under a workflow node's ``with:`` (``("members",
    1)``), used to find its line.
    """

    name: str
    role: str
    field: str
    path: tuple[str | int, ...]


def seat_names(seats: Sequence[TeamMember], field: str = "members") -> list[Named]:
    """The names of ``seats`` (and of their pools) that are called through the context."""
    named: list[Named] = []
    for i, seat in enumerate(seats):
        if seat.action is None:
            named.append(Named(seat.name, "member", f"{field}[{i}]", (field, i)))
        for j, spare in enumerate(seat.pool):
            if isinstance(spare, str):
                where = ("pools", seat.name, j)
                named.append(Named(spare, "pool replacement", f"pools.{seat.name}[{j}]", where))
    return named


def callable_names(ctx: Any) -> set[str] | None:
    """Every name ``ctx.invoke`` can resolve, or None when ``ctx`` cannot tell."""
    while isinstance(ctx, MemberContext):
        ctx = ctx.outer
    if isinstance(ctx, LocalContext):
        return ctx.names()
    tables: list[Any] = []
    if isinstance(ctx, ExecutionContext):
        tables.append(ctx.site.registry)
    else:  # an agent host's context: its own actions, then the remote ones it knows
        host = getattr(ctx, "host", None)
        tables += [getattr(host, "registry", None), getattr(host, "others", None)]
    tables = [t for t in tables if isinstance(t, ActionTable)]
    if not tables:
        return None
    return {name for table in tables for name in table.names()}


def _known(name: str, names: set[str]) -> str:
    """The known names, the closest to ``name`` first, the list cut at ``SHOWN_NAMES``."""
    ordered = difflib.get_close_matches(name, sorted(names), n=max(len(names), 1), cutoff=0.0)
    shown = ", ".join(ordered[:SHOWN_NAMES]) or "none"
    more = len(ordered) - SHOWN_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def unknown_name_failure(
    call: ActionCall, ctx: Any, owner: str, named: Sequence[Named]
) -> ActionResult | None:
    """The failure of ``call`` when a name in ``named`` is no action ``ctx`` can call, else None.

    ``owner`` says whose names they are (``"cluster 'fed'"``). Only the first
    unknown name is located; every unknown one is listed.
    """
    known = callable_names(ctx)
    if known is None:
        return None
    unknown = [n for n in named if n.name not in known]
    if not unknown:
        return None
    first = unknown[0]
    hint = did_you_mean(first.name, known, n=1)
    given = f" ({first.field})" if first.field != first.role else ""
    also = ", ".join(f"{n.role} '{n.name}'" for n in unknown[1:])
    message = (
        f"{owner}: {first.role} '{first.name}'{given} is no action of this run{hint}"
        + (f"; also unknown: {also}" if also else "")
        + f"; known actions: {_known(first.name, known)}"
    )
    message = located(ctx, first.path, first.field, message)
    return ActionResult.failure(call.call_id, "UnknownAction", message, field=first.field)
