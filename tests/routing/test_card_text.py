"""Prose negations count against an agent; a subtask's leading verb is its operation."""

from __future__ import annotations

from weft.protocols import CapabilityCard
from weft.runtime.routing.capability_index import card_documents
from weft.runtime.routing.card_text import operation_terms, positive_text, prose_negations
from weft.runtime.routing.lexicon import Lexicon


def test_negated_clauses_are_found_each_up_to_the_next_cue() -> None:
    text = "Sorts tickets. It does not write replies and it does not translate tickets."
    assert prose_negations(text) == ["write replies", "translate tickets"]
    assert prose_negations("Explains symptoms. It doesn\u2019t give personal medical advice.") == [
        "give personal medical advice"
    ]
    assert prose_negations("Converts units. Currencies are not supported.") == ["Currencies"]
    assert prose_negations("Converts units between systems.") == []


def test_positive_text_drops_the_negated_sentences() -> None:
    text = "Sorts tickets by urgency. It does not translate tickets."
    assert positive_text(text) == "Sorts tickets by urgency."


def test_prose_negations_are_indexed_as_not_documents_and_leave_the_card_text() -> None:
    card = CapabilityCard(
        agent_id="triage",
        description="Sorts support tickets. It does not translate tickets.",
        skills=["priority"],
        not_skills=["write replies"],
    )
    docs = {d.kind: [] for d in card_documents(card)}  # type: dict[str, list[str]]
    for d in card_documents(card):
        docs[d.kind].append(d.text)
    assert docs["not"] == ["write replies", "translate tickets"]
    assert "translate" not in docs["card"][0]


def test_operation_terms_are_the_leading_verbs_of_imperative_clauses() -> None:
    assert operation_terms("Translate this support ticket into English.") == ["translat"]
    assert operation_terms("Pull the numbers; chart them") == ["pull", "chart"]
    assert operation_terms("How many kilometres is 26 miles?") == []


def test_a_disclaimed_operation_counts_against_and_a_claimed_one_for() -> None:
    lexicon = Lexicon()
    lexicon.put(
        CapabilityCard(agent_id="triage", description="Sorts tickets. It does not translate.")
    )
    lexicon.put(CapabilityCard(agent_id="polyglot", description="Translates text."))
    lexicon.put(CapabilityCard(agent_id="chef", description="Cooks dinner."))
    assert lexicon.operation(["translat"], "polyglot") > 0
    assert lexicon.operation(["translat"], "triage") < 0
    assert lexicon.operation(["translat"], "chef") == 0
