"""The rule planner reads "both", "these" and "those" as a person would: a back-reference
to the earlier subtasks only when there are some and the word stands for them, not when it
joins two things of its own clause, points at what follows it, or sits in quoted text."""

from __future__ import annotations

import pytest

from weft.runtime.orchestrator.back_references import refers_back, refers_back_to_several
from weft.runtime.orchestrator.rule_planner import RulePlanner


def _last_depends_on(task: str) -> list[str]:
    return RulePlanner().build(task, 8).subtasks[-1].depends_on


@pytest.mark.parametrize(
    "task",
    [
        "Compare both options in the report.",
        "Compare both options in the report, then summarise it.",
        "Write a note on those results from last week.",
    ],
)
def test_the_first_piece_of_a_task_waits_for_nothing(task: str) -> None:
    plan = RulePlanner().build(task, 8)
    assert plan.subtasks[0].depends_on == []


def test_with_nothing_earlier_no_word_refers_back_to_several() -> None:
    assert not refers_back_to_several("Compare both options in the report", 0)


@pytest.mark.parametrize(
    "task",
    [
        "Research solar power. Research wind power. Compare both options.",
        "Research solar power. Research wind power. Compare both of them.",
        "Research solar power. Research wind power. Compare both options and pick one.",
        "Research solar power. Research wind power. Compare both and recommend one.",
        "Research solar power. Research wind power. Summarise both reports and write a verdict.",
        "Research the EU AI Act. Research GDPR. Summarise those findings.",
        "Research the EU AI Act. Research GDPR. Compare these two: which is stricter?",
        "Research solar power. Research wind power. Which of those is cheaper to run?",
    ],
)
def test_a_word_that_stands_for_the_earlier_results_waits_for_them(task: str) -> None:
    assert _last_depends_on(task) == ["s1", "s2"]


@pytest.mark.parametrize(
    "task",
    [
        "Research solar power. Research wind power. "
        "Compare both Postgres and MySQL on licence cost.",
        "Research solar power. Research wind power. Write the summary in both English and French.",
        "Research the EU AI Act. Research GDPR. Check both the fines and the deadlines in HIPAA.",
    ],
)
def test_both_x_and_y_in_one_clause_is_no_back_reference(task: str) -> None:
    assert _last_depends_on(task) == []


@pytest.mark.parametrize(
    "task",
    [
        'Research solar power. Research wind power. Translate "those were the days" into French.',
        "Research solar power. Research wind power. Translate 'those were the days' into French.",
        "Research solar power. Research wind power. "
        "Translate \u201cthose were the days\u201d into French.",
        'Research solar power. Research wind power. Reply "both work for me" to the client.',
        'Check the weather in Oslo. Translate "is it raining?" into Norwegian.',
    ],
)
def test_a_word_in_quoted_text_is_no_back_reference(task: str) -> None:
    assert _last_depends_on(task) == []


def test_quoted_text_does_not_hide_a_reference_outside_it() -> None:
    task = 'Research solar power. Research wind power. Compare them under the title "Our grid".'
    assert _last_depends_on(task) == ["s1", "s2"]


def test_an_apostrophe_is_no_quote() -> None:
    """``it's`` and ``the user's`` are words: no quoted passage runs between them."""
    assert refers_back("It's the user's call: summarise it")


@pytest.mark.parametrize(
    "task",
    [
        "Research the EU AI Act. Research GDPR. "
        "Translate these phrases into German: good morning, thank you.",
        'Research the EU AI Act. Research GDPR. Translate these into German: "data controller".',
        "Research the EU AI Act. Research GDPR. Email those who signed up for the webinar.",
        "Research Norway's tariffs. Research Sweden's tariffs. "
        "Compare the EU's tariffs with those of Japan.",
    ],
)
def test_these_or_those_pointing_at_something_else_is_no_back_reference(task: str) -> None:
    assert _last_depends_on(task) == []
