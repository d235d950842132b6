"""The action registry: names to actions, with every kind normalised to ``Action``.

Plain callables become tools, ``Workflow`` builders and workflow specs become
workflow actions (compiled on registration); anything with ``spec`` and
``invoke`` is used as it is. The rules are ``compiler.as_action``'s; this is
the table that applies them to whatever it is given.
"""

from __future__ import annotations

from typing import Any

from weft.protocols import Action
from weft.runtime.engine.action_table import ActionTable, is_action
from weft.runtime.engine.compiler import as_action

__all__ = ["ActionRegistry", "as_action", "is_action"]


class ActionRegistry(ActionTable):
    """Actions available to a run, by name; accepts functions and workflows as well as actions."""

    def adapt(self, obj: Any, name: str | None) -> Action:
        return as_action(obj, name=name)
