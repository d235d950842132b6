"""Actions whose arguments name other actions: how they tell whoever prepares a run.

A team (``weft.runtime.teams:team_action``) is called with
``members: [planner, coder]``: it calls ``planner`` and ``coder`` by name,
through its context, while it runs. Nothing in the workflow's graph shows
those names, so a runner that must fetch actions before the run (``weft run
--broker`` learns which agents serve what) would never fetch them. An action
that calls actions named in its arguments says so by having
``referenced_actions``; the runtime reads it through ``referenced_actions_of``
and never needs to know how the action spells its arguments.

It is declared here, in the layer that imports nothing of weft, because the
action (``runtime.teams``) sits above the code that reads it
(``runtime.remote``), and neither may import the other's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

#: Marks a value filled in only when the run starts (``${inputs.members}``).
TEMPLATE_MARK = "${"


@runtime_checkable
class ReferencesActions(Protocol):
    """An action that calls, by name, actions named in its call's arguments."""

    def referenced_actions(self, arguments: Mapping[str, Any]) -> list[str]:
        """The action names a call with ``arguments`` may call through its context.

        ``arguments`` are a node's ``with:`` as written, before the run: a
        value may still be a template (``${inputs.x}``) or simply wrong.
        Return what can be read from them and never raise: the call itself
        reports a bad argument, with its location, when it runs.
        """
        ...


def referenced_actions_of(action: Any, arguments: Mapping[str, Any] | None) -> list[str]:
    """The names ``action`` would call, given ``arguments``; ``[]`` when it does not say.

    Names that are still templates are left out: they are known only once
    the run has started.
    """
    # getattr, not isinstance: a wrapper that forwards attributes (``__getattr__``) counts too
    declared = getattr(action, "referenced_actions", None)
    if not callable(declared):
        return []
    try:
        names = declared(arguments or {})
    except Exception:  # a declaration that fails must not stop the run: the call will say
        return []
    return [n for n in names if isinstance(n, str) and n and TEMPLATE_MARK not in n]
