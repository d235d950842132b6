"""The action registry: names to actions, with every kind normalised to ``Action``.

Plain callables become tools, ``Workflow`` builders and workflow specs become
workflow actions; anything with ``spec`` and ``invoke`` is used as it is.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

from weft.agents import tool
from weft.protocols import Action, ActionSpec, DefinitionError


def is_action(obj: Any) -> bool:
    return hasattr(obj, "spec") and callable(getattr(obj, "invoke", None))


def as_action(obj: Any, name: str | None = None) -> Action:
    """Normalise ``obj`` (action, callable, Workflow builder, WorkflowSpec) into an action."""
    from weft.protocols import WorkflowSpec
    from weft.workflows import Workflow

    if isinstance(obj, Workflow | WorkflowSpec):
        from weft.runtime.engine.workflow_action import WorkflowAction

        return WorkflowAction.from_definition(obj, name=name)
    if is_action(obj):
        return obj  # type: ignore[no-any-return]
    if callable(obj):
        return tool(name=name)(obj) if name else tool(obj)
    raise DefinitionError.single(
        f"{obj!r} is not an action: expected a @tool, an action object, a function or a workflow"
    )


class ActionRegistry:
    """Actions available to a run, by name. Later registrations may not silently clash."""

    def __init__(self, actions: Iterable[Any] | dict[str, Any] = ()) -> None:
        self._actions: dict[str, Action] = {}
        items = actions.items() if isinstance(actions, dict) else ((None, a) for a in actions)
        for name, obj in items:
            self.register(obj, name=name)

    def register(self, obj: Any, name: str | None = None, *, replace: bool = False) -> Action:
        action = as_action(obj, name=name)
        key = name or action.spec.name
        existing = self._actions.get(key)
        if existing is not None and existing is not action and not replace:
            raise DefinitionError.single(f"two different actions are registered as '{key}'")
        self._actions[key] = action
        return action

    def get(self, name: str) -> Action:
        try:
            return self._actions[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._actions), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise DefinitionError.single(f"unknown action '{name}'{hint}") from None

    def specs(self) -> dict[str, ActionSpec]:
        return {name: action.spec for name, action in self._actions.items()}

    def names(self) -> list[str]:
        return list(self._actions)

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[str]:
        return iter(self._actions)

    def __len__(self) -> int:
        return len(self._actions)

    def merged(self, other: ActionRegistry) -> ActionRegistry:
        """A new registry with both sets of actions (``other`` must not clash)."""
        merged = ActionRegistry()
        merged._actions = dict(self._actions)
        for name, action in other._actions.items():
            merged.register(action, name=name)
        return merged
