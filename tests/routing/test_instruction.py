"""Finding what a subtask asks to do, apart from the context around it."""

from __future__ import annotations

import pytest

from weft.runtime.routing.instruction import (
    affirmed_text,
    imperative_clauses,
    instruction_text,
    operation_terms,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Someone patched the crash in the uploader; go over their patch and say if it is safe.",
            "go over their patch and say if it is safe.",
        ),
        (
            "After the crash fix lands, add a test that reproduces the bug.",
            "add a test that reproduces the bug.",
        ),
        ("Our invoice module has zero tests, add some.", "add some."),
        (
            "The ticket is already categorised as billing; now draft the reply to the customer.",
            "draft the reply to the customer.",
        ),
        (
            "Memory keeps growing in the worker until it is killed; find the cause.",
            "find the cause.",
        ),
        (
            "Reviewers keep missing regressions in the cart code, so write pytest cases for them.",
            "write pytest cases for them.",
        ),
        # Chat style: a lower-case subject is no verb, "reply" no adverb, "let's" an imperative.
        (
            "client sent over their NDA and it's awful, let's just send them our own",
            "send them our own",
        ),
        ("customer complained about the refund, reply to them today", "reply to them today"),
        ("the customer asked for a refund, draft the answer", "draft the answer"),
    ],
)
def test_context_is_dropped_and_the_instruction_kept(text: str, expected: str) -> None:
    assert instruction_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Translate this support ticket from a Spanish customer into English.",  # all instruction
        "How many kilometres is 26.2 miles?",  # a question: no imperative clause
        "I'm training for a marathon; how many carbs should I eat per day?",
        "Is the difference in conversion between variant A and B significant?",
    ],
)
def test_no_separate_instruction_when_the_text_is_one_or_has_none(text: str) -> None:
    assert instruction_text(text) is None


def test_names_after_a_comma_and_gerunds_are_not_verbs() -> None:
    clauses = imperative_clauses("Find a 30-minute slot next week for me, Ana and Raj.")
    assert [c.verb for c in clauses] == ["find"]
    assert imperative_clauses("Training the model on more data helps.") == []
    assert [c.verb for c in imperative_clauses("Bring coverage up to 80 percent.")] == ["bring"]


def test_operation_terms_are_stemmed_verbs_with_particles_dropped() -> None:
    assert operation_terms("Pull the numbers; chart them") == ["pull", "chart"]
    assert operation_terms("Boil it down, then translate it.") == ["boil", "translat"]
    assert [c.verb for c in imperative_clauses("Go over the patch.")] == ["go over"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The work the user does not want names another agent's operation: dropped.
        (
            "I've got 30 tickets from our Brazilian customers. I don't need them sorted or "
            "prioritised, I just need each one in English.",
            "I've got 30 tickets from our Brazilian customers. I just need each one in English.",
        ),
        (
            "The transcript is long. I don't want a summary; I need a decision log.",
            "The transcript is long. I need a decision log.",
        ),
        ("Which emails still need a reply? Don't write the replies, just list them.", "list them."),
        (
            "A customer wrote to us in German, very angry. I don't need it translated. "
            "Just tell me how urgent it is.",
            "tell me how urgent it is.",
        ),
        (
            "Go through the module for naming; no need to add tests.",
            "Go through the module for naming;",
        ),
    ],
)
def test_negated_clauses_are_no_instruction(text: str, expected: str) -> None:
    assert instruction_text(text) == expected


def test_negated_clauses_alone_leave_the_whole_text() -> None:
    assert affirmed_text("Don't translate it.") is None  # nothing else is asked
    assert affirmed_text("Is this not right?") is None  # a question, not a negated clause
    assert affirmed_text("Translate the ticket into English.") is None
    assert operation_terms("A customer wrote in, very angry. Tell me who owns it.") == ["tell"]
