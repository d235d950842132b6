"""Actions by name: the table a compiled workflow calls through.

``ActionTable`` holds objects that already are actions. Turning a plain
function or a whole workflow into one is ``compiler.as_action``'s job, and
``registry.ActionRegistry`` is this table with that conversion on
``register``: the table stays below the compiler, so compiling a workflow and
running it never import each other in a circle.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Self

from weft.protocols import Action, ActionSpec, DefinitionError


def is_action(obj: Any) -> bool:
    """Whether ``obj`` can be called as it is: it has a ``spec`` and an ``invoke``."""
    return hasattr(obj, "spec") and callable(getattr(obj, "invoke", None))


class ActionTable:
    """Actions available to a run, by name. Later registrations may not silently clash."""

    def __init__(self, actions: Iterable[Any] | Mapping[str, Any] = ()) -> None:
        self._actions: dict[str, Action] = {}
        #: Names whose action came bundled with another; registering one replaces it.
        self._bundled: set[str] = set()
        items = actions.items() if isinstance(actions, Mapping) else ((None, a) for a in actions)
        for name, obj in items:
            self.register(obj, name=name)

    def adapt(self, obj: Any, name: str | None) -> Action:
        """The action ``obj`` stands for; this table takes only objects that are actions."""
        if is_action(obj):
            return obj  # type: ignore[no-any-return]
        raise DefinitionError.single(
            f"{obj!r} is not an action (use ActionRegistry to register functions and workflows)"
        )

    def register(self, obj: Any, name: str | None = None, *, replace: bool = False) -> Action:
        """Add ``obj`` under ``name`` (default: its spec's name); a clash is a ``DefinitionError``
        unless ``replace`` is set.

        The actions an action brings with it (its ``bundled_actions``, such as
        the tool objects given to an ``LLMAgent``) are added too, under their
        own names, unless the table already has an action of that name; one
        registered later under such a name replaces the bundled one.
        """
        action = self.adapt(obj, name)
        key = name or action.spec.name
        existing = self._actions.get(key)
        clash = existing is not None and existing is not action and key not in self._bundled
        if clash and not replace:
            raise DefinitionError.single(f"two different actions are registered as '{key}'")
        self._actions[key] = action
        self._bundled.discard(key)
        for bundled in getattr(action, "bundled_actions", ()):
            if bundled.spec.name not in self._actions:
                self.register(bundled)
                self._bundled.add(bundled.spec.name)
        return action

    def get(self, name: str) -> Action:
        """The action called ``name``; an unknown name is a ``DefinitionError`` with hints."""
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

    def items(self) -> list[tuple[str, Action]]:
        return list(self._actions.items())

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[str]:
        return iter(self._actions)

    def __len__(self) -> int:
        return len(self._actions)

    def copy(self) -> Self:
        """A table of the same kind with the same actions, to add to without touching this one."""
        copied = type(self)()
        copied._actions = dict(self._actions)
        copied._bundled = set(self._bundled)
        return copied

    def merged(self, other: ActionTable) -> Self:
        """A new table with both sets of actions (``other`` must not clash)."""
        merged = self.copy()
        for name, action in other.items():
            merged.register(action, name=name)
        return merged
