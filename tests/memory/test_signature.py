"""The reuse rule on its own: operations, deliverables and parameters (no Chroma, no model)."""

from __future__ import annotations

import pytest

from weft.runtime.memory import Candidate, MemoryRecord, ReusePolicy, decide, fill_plan
from weft.runtime.memory.signature import signature


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Export the customer list to CSV", "Clean the customer list"),
        ("Draft an email to Acme", "Review the email to Acme"),
        ("Forecast revenue for 2025", "Compare revenue for 2025"),
        ("Write a report on churn", "Write an email on churn"),
        ("Create a weekly meal plan", "Create a weekly lesson plan"),
    ],
)
def test_same_words_another_operation_or_deliverable_differ(a: str, b: str) -> None:
    sa, sb = signature(a), signature(b)
    assert (sa.operations, sa.deliverables) != (sb.operations, sb.deliverables)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Draft an email to Acme Corp", "Compose a message to Initech"),
        ("Summarize the call of Apple for Q3 2024", "Give me a short summary of the Nvidia call"),
        ("Translate the guide into Spanish", "I need the guide translated into German."),
    ],
)
def test_synonyms_and_parameters_agree(a: str, b: str) -> None:
    sa, sb = signature(a), signature(b)
    assert (sa.operations, sa.deliverables) == (sb.operations, sb.deliverables)


def test_parameters_are_masked_as_slots() -> None:
    sig = signature('Convert "Q3 sales" in sales_2023.xlsx to JSON for Globex on Friday')
    assert sig.masked == "convert {TEXT} in {FILE} to {FORMAT} for {NAME} on {DATE}"
    assert ("FILE", "sales_2023.xlsx") in sig.slots


def test_a_reused_plan_gets_the_new_parameters() -> None:
    past = "Summarize the earnings call of Apple for Q3 2024"
    plan = {
        "subtasks": [
            {"id": "get", "description": "Fetch the Apple Q3 2024 transcript", "capability": "x"},
            {"id": "sum", "description": "Summarize it", "capability": "y", "depends_on": ["get"]},
        ]
    }
    record = MemoryRecord(task=past, plan=plan)
    new = "Summarize the earnings call of Microsoft for Q2 2025"
    filled = fill_plan(record, signature(past), signature(new))
    assert filled["subtasks"][0]["description"] == "Fetch the Microsoft Q2 2025 transcript"


def test_the_most_similar_passing_candidate_wins_and_the_others_say_why() -> None:
    new = signature("Clean the customer list")
    cands = [
        Candidate("export", signature("Export the customer list"), 0.9),
        Candidate("clean", signature("Clean the customer list in the CRM"), 0.8),
    ]
    decision = decide(new, cands, ReusePolicy(threshold=0.7))
    assert decision.record_id == "clean"
    assert decision.rejected == ("export: operation differs (clean vs export)",)


def test_without_a_deliverable_what_the_verb_acts_on_must_agree() -> None:
    past = "Can you calculate the monthly payment on a $300,000 loan at 6.5% over 30 years?"
    other = "Can you calculate the total interest on a $300,000 loan at 6.5% over 30 years?"
    same = "Calculate the monthly payment on a $450,000 loan at 7% over 15 years"
    cand = [Candidate("past", signature(past), 0.91)]
    refused = decide(signature(other), cand, ReusePolicy())
    assert refused.record_id is None and refused.why.startswith("object differs")
    assert decide(signature(same), cand, ReusePolicy()).record_id == "past"


def test_an_extra_step_is_another_plan() -> None:
    one = signature("Clean the customer list from the CRM")
    two = signature("Deduplicate the customer list from the CRM and normalize the phone numbers")
    extra = signature("Translate the guide into Spanish and record a voice-over of it")
    assert (one.steps, two.steps) == (1, 2)
    assert extra.steps == 2 and "record" in extra.operations
    cand = [Candidate("one", one, 0.9)]
    assert decide(two, cand, ReusePolicy()).why.startswith("step count differs")


def test_a_deliverable_word_in_the_topic_is_not_the_deliverable() -> None:
    sig = signature("Write a blog post about our new API release")
    assert sig.deliverables == {"blog post"}
    assert signature("Convert the budget spreadsheet budget_q3.xlsx to CSV").heads == {"table"}
    assert signature("Schedule a meeting with the sales team").deliverables == set()


@pytest.mark.parametrize(
    ("past", "new"),
    [
        ("Export the customer list from the CRM to CSV", "Export the vendor list from the ERP"),
        (
            "Translate the onboarding guide into Spanish",
            "Translate the employee handbook into Dutch",
        ),
    ],
)
def test_a_specific_operation_ignores_what_kind_of_list_or_guide(past: str, new: str) -> None:
    decision = decide(signature(new), [Candidate("p", signature(past), 0.7)], ReusePolicy())
    assert decision.record_id == "p"


def test_a_named_deliverable_about_another_subject_is_a_borderline_reuse() -> None:
    past = signature("Prepare an agenda for the board meeting on Friday")
    new = signature("Prepare an agenda for the team offsite on Monday")
    decision = decide(new, [Candidate("p", past, 0.69)], ReusePolicy())
    assert decision.record_id == "p" and decision.borderline
    unnamed = decide(
        signature("Find and fix the plot holes in chapter 3"),
        [Candidate("p", signature("Find and fix the spelling mistakes in chapter 3"), 0.64)],
        ReusePolicy(),
    )
    assert unnamed.record_id is None and unnamed.why.startswith("object differs")


def test_below_the_floor_only_the_very_same_shape_is_reused_and_it_is_borderline() -> None:
    past = signature("bump lodash to 4.17.21 in package.json")
    new = signature("upgrade axios to 1.7.2 in package.json")
    assert new.skeleton == past.skeleton == "<upgrade> * to {NUM} in {FILE}"
    same = decide(new, [Candidate("p", past, 0.5)], ReusePolicy())
    assert same.record_id == "p" and same.borderline and "same shape" in same.why
    other = signature("Translate the voicemail from Dr. Patel about the results into English")
    shaped = decide(
        other,
        [Candidate("p", signature("Translate the intake form into Vietnamese"), 0.5)],
        ReusePolicy(),
    )
    assert shaped.record_id is None and shaped.why.startswith("similarity")


def test_without_a_known_operation_only_a_close_match_is_reused() -> None:
    past = signature("reconcile the March bank statement with the ledger")
    assert not past.understood and signature("Export the list").understood
    near = signature("reconcile the Q2 credit card statement with the ledger")
    refused = decide(near, [Candidate("p", past, 0.68)], ReusePolicy())
    assert refused.record_id is None and refused.why.startswith("no known operation")
    same = signature("reconcile the April bank statement with the ledger")
    assert decide(same, [Candidate("p", past, 0.9)], ReusePolicy()).record_id == "p"


def test_a_similarity_just_under_the_floor_does_not_print_as_the_floor() -> None:
    """``weft memory match --why`` said ``similarity 0.55 < 0.55`` for 0.5497."""
    cand = [Candidate("past", signature("Translate the handbook into French"), 0.5497)]
    decision = decide(signature("Review the handbook"), cand, ReusePolicy())
    assert decision.record_id is None
    assert decision.why == "similarity 0.5497 < 0.55"
    cand = [Candidate("past", signature("Translate the handbook into French"), 0.41)]
    assert decide(signature("Review the handbook"), cand, ReusePolicy()).why == (
        "similarity 0.41 < 0.55"
    )
