"""What a run's listener saw of its loops and critics, comparable across engines."""

from __future__ import annotations

from typing import Any

from weft.protocols import EventKind, RunEvent


class Events:
    """A listener keeping every loop pass and every critic's review, in a stable order.

    The two engines may order parallel work differently, so ``seen`` is sorted.
    """

    def __init__(self) -> None:
        self._seen: list[tuple[Any, ...]] = []

    def __call__(self, event: RunEvent) -> None:
        if event.kind is EventKind.LOOP_ITERATION:
            self._seen.append(("loop", event.node, event.data["iteration"]))
        elif event.kind is EventKind.PROGRESS and "critic" in event.data:
            self._seen.append(("review", event.key, event.data["round"], event.data["review"]))

    @property
    def seen(self) -> list[tuple[Any, ...]]:
        return sorted(self._seen, key=repr)
