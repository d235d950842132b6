"""``weft run``'s live panel shows each running node's latest progress message."""

from __future__ import annotations

from rich.console import Console

from weft.cli._display import RunDisplay
from weft.protocols import EventKind, RunEvent


def rendered(display: RunDisplay) -> str:
    console = Console(record=True, width=120)
    console.print(display._render())
    return console.export_text()


def test_progress_of_a_running_node_is_shown_until_it_finishes() -> None:
    display = RunDisplay()
    event = RunEvent
    display.on_event(
        event(run_id="r", kind=EventKind.RUN_STARTED, data={"workflow": "wf", "nodes": 2})
    )
    display.on_event(event(run_id="r", kind=EventKind.NODE_STARTED, node="fetch", key="fetch"))
    display.on_event(
        event(
            run_id="r",
            kind=EventKind.PROGRESS,
            node="fetch",
            key="fetch",
            data={"message": "page 3 of 10\n  (remote)"},
        )
    )
    assert "… fetch" in rendered(display)
    assert "page 3 of 10 (remote)" in rendered(display)
    display.on_event(
        event(
            run_id="r", kind=EventKind.NODE_FINISHED, node="fetch", key="fetch", state="succeeded"
        )
    )
    text = rendered(display)
    assert "page 3 of 10" not in text and "✓ 1" in text


def test_progress_for_a_node_that_is_not_running_is_ignored() -> None:
    display = RunDisplay()
    display.on_event(
        RunEvent(
            run_id="r", kind=EventKind.PROGRESS, node="late", key="late", data={"message": "hi"}
        )
    )
    assert "hi" not in rendered(display)
