"""Actions by name: the table a compiled workflow calls through.

``ActionTable`` holds objects that already are actions. Turning a plain
function or a whole workflow into one is ``compiler.as_action``'s job, and
``registry.ActionRegistry`` is this table with that conversion on
``register``: the table stays below the compiler, so compiling a workflow and
running it never import each other in a circle.

A table may also *follow* a group of actions that changes while it is used
(``LiveActions``: an MCP server's tools, ``McpTools``, which weft lists again
when the server says its tools changed). An action the group gains is added
by name the next time the table is read, so a later call by name finds it
(``ctx.invoke``, an ``LLMAgent``'s tools at its next call, ``ctx.actions()``);
what a call already took from the table does not change under it. One the
group loses stays: its calls fail on their own (``McpToolRemoved``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeGuard, runtime_checkable

from weft.protocols import Action, ActionSpec, DefinitionError, name_apart
from weft.protocols.hints import did_you_mean


def is_action(obj: Any) -> bool:
    """Whether ``obj`` can be called as it is: it has a ``spec`` and an ``invoke``."""
    return hasattr(obj, "spec") and callable(getattr(obj, "invoke", None))


def clash_message(name: str) -> str:
    """Why a second, different action may not take ``name``, and how to name them apart.

    A clash is refused, never resolved by dropping one: a call by name would
    reach the other action without a word. The usual cause is two lambdas,
    which are both ``<lambda>`` (a file's top-level lambdas are named after
    their variables by ``weft ask --agents``; a lambda given directly cannot be).
    """
    return f"two different actions are registered as '{name}': {name_apart(name)}"


@runtime_checkable
class LiveActions(Protocol):
    """Actions that change while they are used: iterating gives the current ones, and
    ``generation`` grows at each change (``McpTools``)."""

    @property
    def generation(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


def is_live(obj: Any) -> TypeGuard[LiveActions]:
    """Whether ``obj`` is a group of actions to follow (``ActionTable.follow``)."""
    return isinstance(obj, LiveActions) and not is_action(obj)


@dataclass
class _Followed:
    source: LiveActions
    seen: int


class ActionTable:
    """Actions available to a run, by name. Later registrations may not silently clash."""

    def __init__(self, actions: Iterable[Any] | Mapping[str, Any] = ()) -> None:
        self._actions: dict[str, Action] = {}
        #: Names whose action came bundled with another; registering one replaces it.
        self._bundled: set[str] = set()
        #: Groups of actions that change, followed (``follow``).
        self._following: list[_Followed] = []
        items = actions.items() if isinstance(actions, Mapping) else ((None, a) for a in actions)
        for name, obj in items:
            if name is None and is_live(obj):
                self.follow(obj)
            else:
                self.register(obj, name=name)

    def follow(self, source: LiveActions) -> None:
        """Add ``source``'s actions by their names, now and whenever it gains one.

        A name the table has already keeps its action (one registered by the
        caller wins), now and later. Checked each time the table is read, on
        the reader's thread: cheap (one ``generation`` read per source).
        """
        self._following.append(_Followed(source, source.generation))
        self._add_from(source)

    def _add_from(self, source: LiveActions) -> None:
        for obj in source:
            action = self.adapt(obj, None)
            # setdefault, not register: two readers syncing at once never clash
            self._actions.setdefault(action.spec.name, action)

    def _sync(self) -> None:
        for followed in self._following:
            generation = followed.source.generation
            if generation != followed.seen:
                followed.seen = generation
                self._add_from(followed.source)

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
            raise DefinitionError.single(clash_message(key))
        self._actions[key] = action
        self._bundled.discard(key)
        for bundled in getattr(action, "bundled_actions", ()):
            if bundled.spec.name not in self._actions:
                self.register(bundled)
                self._bundled.add(bundled.spec.name)
        return action

    def get(self, name: str) -> Action:
        """The action called ``name``; an unknown name is a ``DefinitionError`` with hints."""
        self._sync()
        try:
            return self._actions[name]
        except KeyError:
            hint = did_you_mean(name, self._actions)
            raise DefinitionError.single(f"unknown action '{name}'{hint}") from None

    def specs(self) -> dict[str, ActionSpec]:
        self._sync()
        return {name: action.spec for name, action in self._actions.items()}

    def names(self) -> list[str]:
        self._sync()
        return list(self._actions)

    def items(self) -> list[tuple[str, Action]]:
        self._sync()
        return list(self._actions.items())

    def __contains__(self, name: object) -> bool:
        self._sync()
        return name in self._actions

    def __iter__(self) -> Iterator[str]:
        self._sync()
        return iter(self._actions)

    def __len__(self) -> int:
        self._sync()
        return len(self._actions)

    def copy(self) -> Self:
        """A table of the same kind with the same actions, to add to without touching this one."""
        copied = type(self)()
        copied._actions = dict(self._actions)
        copied._bundled = set(self._bundled)
        copied._following = [_Followed(f.source, f.seen) for f in self._following]
        return copied

    def merged(self, other: ActionTable) -> Self:
        """A new table with both sets of actions (``other`` must not clash)."""
        merged = self.copy()
        for name, action in other.items():
            merged.register(action, name=name)
        for followed in other._following:
            merged._following.append(_Followed(followed.source, followed.seen))
        return merged
