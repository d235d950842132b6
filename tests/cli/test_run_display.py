"""``weft run``'s live panel shows each running node's latest progress message."""

from __future__ import annotations

import pytest
from rich.console import Console

from weft.cli._display import RunDisplay, print_summary
from weft.protocols import ErrorInfo, EventKind, NodeState, RunEvent, RunState
from weft.protocols.actions import NO_USAGE
from weft.runtime.engine.outcomes import NodeOutcome, RunResult


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


def test_critic_reviews_and_loop_passes_are_counted_and_the_latest_shown() -> None:
    display = RunDisplay()
    display.on_event(
        RunEvent(run_id="r", kind=EventKind.RUN_STARTED, data={"workflow": "wf", "nodes": 3})
    )
    assert "reviews" not in rendered(display)
    display.on_event(
        RunEvent(
            run_id="r",
            kind=EventKind.PROGRESS,
            node="edit",
            key="draft->edit",
            data={"critic": "judge", "review": {"approved": False, "feedback": "cut it"}},
        )
    )
    text = rendered(display)
    assert "reviews 1 (1 sent back)" in text
    assert "judge on draft->edit (round 0): sent back: cut it" in text
    display.on_event(
        RunEvent(
            run_id="r",
            kind=EventKind.PROGRESS,
            node="edit",
            key="draft->edit",
            data={"critic": "judge", "review": {"approved": True}, "round": 1},
        )
    )
    display.on_event(
        RunEvent(
            run_id="r",
            kind=EventKind.LOOP_ITERATION,
            node="draft",
            data={"source": "check", "iteration": 2},
        )
    )
    text = rendered(display)
    assert "reviews 2 (1 sent back)" in text and "loop passes 1" in text
    assert "loop check -> draft: pass 2" in text


def test_a_run_cancelled_without_a_run_error_still_says_why_and_how_to_resume(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A call an agent cancelled: the node is cancelled with the agent's reason, the run
    is cancelled with no run error, and the summary used to end at the node's line, with
    neither the reason nor the resume command."""
    cancelled = NodeOutcome(
        "a",
        "a",
        NodeState.CANCELLED,
        error=ErrorInfo(type="Cancelled", message="agent d-1: the call was cancelled"),
        attempts=1,
        started_at=1.0,
        finished_at=2.0,
    )
    result = RunResult("r1", "wf", RunState.CANCELLED, {}, {"a": cancelled}, NO_USAGE, 1.0, 2.0)
    print_summary(result)
    out = capsys.readouterr().out
    assert "Cancelled: agent d-1: the call was cancelled" in out
    assert "resume with: weft resume r1" in out
