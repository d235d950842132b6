"""Actions that check their own literal arguments before a run: how they tell the compiler.

A node's ``with:`` is checked against the action's JSON schema by ``weft
validate``, but a schema cannot say everything an action refuses: a team's
``selector: roundrobin`` is a string (the schema's word) yet no speaker rule,
a ``pools`` key that is no member is a well-formed object. Such a mistake
used to surface only when the node started, after the nodes before it had
run. An action that can tell from the arguments alone has
``argument_problems``; the compiler (``weft validate``, and every run before
it starts) calls it through ``argument_problems_of`` with the node's ``with:``
as written, and reports each problem at its line.

Declared here, in the layer that imports nothing of weft, because the action
(``runtime.teams``) sits above nothing that may call it by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class ArgumentProblem:
    """One thing wrong (or suspicious) in a node's literal arguments."""

    path: tuple[str | int, ...]
    """Where under the node's ``with:`` it is (``("pools", "bob")``), for the line."""
    field: str
    """The argument, as a message names it (``selector``, ``pools.bob``)."""
    message: str
    """What is wrong and what to write instead, without the location (added by the caller)."""
    warning: bool = False
    """A warning does not stop the run (literal text that may be meant); an error does."""


@runtime_checkable
class ChecksArguments(Protocol):
    """An action that can find mistakes in its arguments before it is called."""

    def argument_problems(self, arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
        """What is wrong with ``arguments``, a node's ``with:`` as written before the run.

        A value may still be a template (``${inputs.x}``): leave it (and what
        depends on it) unchecked, the call checks it when it runs. Never raise.
        """
        ...


def argument_problems_of(action: Any, arguments: Mapping[str, Any] | None) -> list[ArgumentProblem]:
    """``action``'s problems with ``arguments``; ``[]`` when it does not check, or its check broke.

    A check that fails must not stop the run: the call still checks its
    arguments when it runs.
    """
    # getattr, not isinstance: a wrapper that forwards attributes (``__getattr__``) counts too
    declared = getattr(action, "argument_problems", None)
    if not callable(declared):
        return []
    try:
        found = declared(arguments or {})
    except Exception:
        return []
    return [p for p in found if isinstance(p, ArgumentProblem)]
