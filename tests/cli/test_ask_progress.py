"""The live panel of ``weft ask`` on a terminal: plan, routes and node states in one view.

Rich draws the panel's last state when the ask ends; off a terminal (as
here) only that final drawing is written, which is what these tests read.
The line-by-line form is tested through the command in
``tests/orchestrator/test_cli_ask.py``.
"""

from __future__ import annotations

import pytest

from weft.cli._ask_display import AskProgress
from weft.protocols import EventKind, RunEvent
from weft.runtime.orchestrator import Plan


def event(
    kind: EventKind, node: str | None = None, state: str | None = None, **data: object
) -> RunEvent:
    return RunEvent(run_id="r", kind=kind, at=0.0, node=node, key=node, state=state, data=data)


PLAN = Plan.model_validate(
    {
        "subtasks": [
            {"id": "s1", "description": "Research solar", "capability": "research"},
            {"id": "s2", "description": "Compare", "capability": "compare", "depends_on": ["s1"]},
        ]
    }
)


def test_the_panel_shows_each_subtask_with_its_route_and_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with AskProgress(live=True) as progress:
        progress.planning("the rule planner")
        progress.on_plan(PLAN, {"s1": "research", "s2": "compare"})
        progress.on_event(event(EventKind.NODE_STARTED, "s1"))
        progress.on_event(event(EventKind.NODE_FINISHED, "s1", "succeeded"))
        progress.on_event(event(EventKind.NODE_STARTED, "s2"))
        progress.on_event(event(EventKind.PROGRESS, "s2", message="reading sources"))
    shown = capsys.readouterr().err
    assert "weft ask  plan: 2 subtasks" in shown
    assert "✓ s1 → research  Research solar" in shown
    assert "… s2 → compare  Compare (after s1)" in shown
    assert "reading sources" in shown


def test_the_panel_replaces_the_line_by_line_output(capsys: pytest.CaptureFixture[str]) -> None:
    with AskProgress(live=True) as progress:
        progress.planning("the rule planner")
        progress.on_plan(PLAN, {"s1": "research", "s2": "compare"})
    shown = capsys.readouterr().err
    assert "planning with the rule planner…" not in shown
    assert "  s1 → research: Research solar" not in shown


def test_sub_workflow_nodes_and_foreach_items_get_no_rows_of_their_own() -> None:
    progress = AskProgress(live=False)
    progress.on_plan(PLAN, {"s1": "research", "s2": "compare"})
    progress.on_event(event(EventKind.NODE_STARTED, "s1/inner"))
    progress.on_event(
        RunEvent(run_id="r", kind=EventKind.NODE_STARTED, at=0.0, node="s1", key="s1[0]")
    )
    assert list(progress.rows) == ["s1", "s2"]
    assert progress.rows["s1"].state == "pending"


CLUSTERED = Plan.model_validate(
    {
        "subtasks": [
            {"id": "s1", "description": "Research solar", "capability": "research"},
            {"id": "s2", "description": "Research wind", "capability": "research"},
            {"id": "s3", "description": "Chart prices", "capability": "chart"},
            {"id": "s4", "description": "Compare", "capability": "compare", "depends_on": ["s1"]},
        ]
    }
)
ROUTES = {"s1": "research", "s2": "research", "s3": "chart", "s4": "compare"}


def test_subtasks_folded_into_a_cluster_run_and_finish_with_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with AskProgress(live=True, cluster_rounds=2) as progress:
        progress.on_plan(CLUSTERED, ROUTES)
        progress.on_event(event(EventKind.NODE_STARTED, "channel_s1"))
        progress.on_event(event(EventKind.NODE_STARTED, "s3"))  # same inputs, runs alone
        assert [progress.rows[s].state for s in ("s1", "s2", "s3", "s4")] == [
            "running",
            "running",
            "running",
            "pending",
        ]
        progress.on_event(event(EventKind.NODE_FINISHED, "channel_s1", "succeeded"))
    assert progress.rows["s1"].channels == progress.rows["s2"].channels == ("channel_s1",)
    assert progress.rows["s3"].channels == ()
    assert [progress.rows[s].state for s in ("s1", "s2", "s3", "s4")] == [
        "succeeded",
        "succeeded",
        "running",
        "pending",
    ]
    shown = capsys.readouterr().err
    assert "✓ channel_s1 → cluster, 2 rounds" in shown
    assert "✓ s1 → research  Research solar · in channel_s1" in shown
    assert "✓ s2 → research  Research wind · in channel_s1" in shown
    assert "… s3 → chart  Chart prices  " in shown


def test_a_failed_cluster_fails_its_subtasks() -> None:
    progress = AskProgress(live=False, cluster_rounds=1)
    progress.on_plan(CLUSTERED, ROUTES)
    progress.on_event(event(EventKind.NODE_STARTED, "channel_s1"))
    progress.on_event(event(EventKind.NODE_FINISHED, "channel_s1", "failed"))
    assert progress.rows["s2"].state == "failed"
    assert progress.rows["s4"].state == "pending"  # other inputs: never in that cluster


def test_without_clusters_a_channel_named_node_folds_nothing() -> None:
    progress = AskProgress(live=False)
    progress.on_plan(CLUSTERED, ROUTES)
    progress.on_event(event(EventKind.NODE_STARTED, "channel_s1"))
    assert progress.rows["s2"].state == "pending" and progress.rows["s2"].channels == ()


INTERLEAVED = Plan.model_validate(
    {
        "subtasks": [
            {"id": "s1", "description": "Research solar", "capability": "research"},
            {"id": "s2", "description": "Chart solar", "capability": "chart"},
            {"id": "s3", "description": "Research wind", "capability": "research"},
            {"id": "s4", "description": "Chart wind", "capability": "chart"},
        ]
    }
)
INTERLEAVED_ROUTES = {"s1": "research", "s2": "chart", "s3": "research", "s4": "chart"}


def test_the_clusters_the_orchestrator_names_are_shown_exactly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clusters = {"channel_s1": ["s1", "s3"], "channel_s2": ["s2", "s4"]}
    with AskProgress(live=True, cluster_rounds=1) as progress:
        progress.on_plan(INTERLEAVED, INTERLEAVED_ROUTES, clusters)
        progress.on_event(event(EventKind.NODE_STARTED, "channel_s1"))
        progress.on_event(event(EventKind.NODE_STARTED, "channel_s2"))
        progress.on_event(event(EventKind.NODE_FINISHED, "channel_s1", "succeeded"))
    assert [progress.rows[s].state for s in ("s1", "s2", "s3", "s4")] == [
        "succeeded",
        "running",
        "succeeded",
        "running",
    ]
    shown = capsys.readouterr().err
    assert "✓ s3 → research  Research wind · in channel_s1  " in shown
    assert "… s4 → chart  Chart wind · in channel_s2  " in shown
    assert " or " not in shown


def test_the_plan_lines_name_each_subtasks_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    progress = AskProgress(live=False, cluster_rounds=1)
    progress.on_plan(INTERLEAVED, INTERLEAVED_ROUTES, {"channel_s1": ["s1", "s3"]})
    shown = capsys.readouterr().err
    assert "  s3 → research: Research wind · in channel_s1\n" in shown
    assert "  s2 → chart: Chart solar\n" in shown


def test_a_subtask_the_orchestrator_left_out_of_clusters_is_not_folded() -> None:
    progress = AskProgress(live=False, cluster_rounds=1)
    progress.on_plan(CLUSTERED, ROUTES, {"channel_s1": ["s1"]})
    progress.on_event(event(EventKind.NODE_STARTED, "channel_s1"))
    assert progress.rows["s2"].channels == () and progress.rows["s2"].state == "pending"
