"""A team's or cluster's settings checked up front, and where a bad one was written.

A bad setting (``max_turns: 0``, a negative ``turn_timeout``, a speaker rule
that does not exist) must stop the team before anyone is called, with a
message naming the team, the setting and the value; in a YAML workflow the
message starts with the file, line and node of the ``with:`` entry
(``argument_location``). ``ArgumentError`` is a ``WeftError`` like every weft error, and a
``ValueError`` so that code catching the constructors' old errors keeps working.
"""

from __future__ import annotations

from typing import Any

from weft.protocols.errors import Location, WeftError
from weft.protocols.source import locate
from weft.runtime.engine.execution_context import ExecutionContext


class ArgumentError(WeftError, ValueError):
    """A team or cluster setting a user gave wrong; ``field`` names it (``max_turns``)."""

    def __init__(self, field: str, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.field = field
        #: Where under a node's ``with:`` it is (``("pools", "bob")``); default ``(field,)``.
        self.path = path or (field,)


def at_least(owner: str, field: str, value: Any, minimum: int) -> None:
    """Refuse ``value`` below ``minimum`` (or not an integer) for the setting ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ArgumentError(
            field, f"{owner}: {field} must be an integer >= {minimum}, not {value!r}"
        )


def positive_seconds(owner: str, field: str, value: Any) -> None:
    """Refuse a time limit that is not a positive number of seconds (None means no limit)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ArgumentError(
            field, f"{owner}: {field} must be a number of seconds > 0 (or unset), not {value!r}"
        )


def argument_location(ctx: Any, path: tuple[str | int, ...], field: str) -> Location | None:
    """The file, line and node of a workflow node's ``with:`` entry at ``path``, if it is one.

    Only for the node's own call: a nested call's arguments come from its caller,
    not from the file. The line falls back to the node's when the entry has none
    (a templated ``with:``); a workflow built in Python has only the node's name.
    """
    if not isinstance(ctx, ExecutionContext) or ">" in ctx.key:
        return None
    if ctx.call.action != ctx.node.action_name:
        return None  # a critic on an edge into the node, not the node's action
    workflow = getattr(ctx.site, "workflow", None)
    source = getattr(getattr(workflow, "spec", None), "source", None)
    node = ctx.node.name
    return locate(source, ("nodes", node, "with", *path), node=node, field_name=f"with.{field}")


def located(ctx: Any, path: tuple[str | int, ...], field: str, message: str) -> str:
    """``message`` prefixed with where the argument at ``path`` was written, when known."""
    where = argument_location(ctx, path, field)
    return f"{where}: {message}" if where is not None else message
