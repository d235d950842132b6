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
