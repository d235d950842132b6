"""A ``then`` inside a clause is no step boundary.

Found writing tasks as people do: "Download the report. It should then be summarised."
became the subtasks "Download the report. It should" and "Be summarised", and "Clean the
data, which is then sent to the model" became "Clean the data, which is" and "Clean sent
to the model" (the second borrowing the first's verb).
"""

from __future__ import annotations

import pytest

from weft.runtime.orchestrator.rule_planner import split_task


@pytest.mark.parametrize(
    "task",
    [
        "Download the report. It should then be summarised.",
        "Download the report; the figures can then be checked by finance.",
        "Clean the data, which is then sent to the model.",
        "Collect the invoices that were paid then and now.",
        "Compare prices as they were then.",
        "If it rains then cancel the picnic.",
    ],
)
def test_a_then_inside_a_clause_keeps_the_task_one_piece(task: str) -> None:
    (only,) = split_task(task)
    assert only[1].lower() == task.rstrip(".").lower()


def test_a_sentence_with_then_after_its_subject_waits_for_the_step_before() -> None:
    assert split_task("Load the file. We will then look for duplicates.") == [
        ("free", "Load the file"),
        ("after_previous", "We will then look for duplicates"),
    ]


def test_a_time_then_orders_nothing() -> None:
    assert split_task("Load the file. Prices back then were low.")[1] == (
        "free",
        "Prices back then were low",
    )


@pytest.mark.parametrize(
    "task",
    [
        "Fetch the logs then summarise the errors.",
        "Fetch the logs, then summarise the errors.",
        "Fetch the logs and then summarise the errors.",
        "Fetch the logs, and then summarise the errors.",
    ],
)
def test_a_then_between_two_steps_still_starts_the_second(task: str) -> None:
    assert split_task(task) == [
        ("free", "Fetch the logs"),
        ("after_previous", "Summarise the errors"),
    ]


def test_a_chain_of_thens_and_a_finally_are_steps_in_order() -> None:
    task = "Research solar, then wind, then compare them, and finally write a memo."
    assert split_task(task) == [
        ("free", "Research solar"),
        ("after_previous", "Research wind"),
        ("after_group", "Compare them"),
        ("after_all", "Write a memo"),
    ]
