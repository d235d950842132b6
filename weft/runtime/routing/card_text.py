"""What a card says it does, what it says it does not, and what a subtask asks to *do*.

Users write cards in prose: "Sorts support tickets by urgency. It does not
write replies and does not translate tickets." A sentence like the second one
is evidence *against* the agent, yet embedding the whole description or
matching its words counts it *for* the agent (it mentions "translate"). So:

- ``prose_negations`` finds the negated clauses of a description ("write
  replies", "translate tickets"); the index embeds them as ``not`` documents,
  exactly like ``not_skills``;
- ``positive_text`` is the description without those sentences, which is what
  the card document and the lexical score use.

Subtasks name an operation and a topic: "translate this support ticket" is a
translation (the operation) about a ticket (the topic). Embeddings weigh the
topic nouns at least as much as the verb, which sends such requests to the
agent that owns the topic. ``operation_terms`` (from ``instruction``, which
also finds the imperative clauses the router scores separately) returns the
stemmed verb of each imperative clause; the router gives an agent a bonus when
its positive text contains that operation and a penalty when its negations
do. Questions ("how many km is 26 miles?") have no leading verb and get no
operation term: the embedding decides alone.
"""

from __future__ import annotations

import re

from weft.protocols import CapabilityCard
from weft.runtime.routing.instruction import operation_terms

__all__ = [
    "card_not_skills",
    "card_positive_text",
    "operation_terms",
    "positive_text",
    "prose_negations",
]

_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
# A negation cue followed by the clause it negates.
_CUE = re.compile(
    r"\b(?:does\s+not|doesn['\u2019]t|do\s+not|don['\u2019]t|will\s+not|won['\u2019]t|"
    r"cannot|can['\u2019]t|is\s+not|isn['\u2019]t|never|not\s+for|not\s+meant\s+for|no\s+longer)\s+",
    re.IGNORECASE,
)
# "Currencies are not supported." / "X is out of scope.": the subject is negated.
_SUBJECT_NEG = re.compile(
    r"^(?P<subject>.+?)\s+(?:are|is)\s+(?:not\s+supported|not\s+handled|out\s+of\s+scope)\b",
    re.IGNORECASE,
)
_LEAD = re.compile(r"^(?:it|this\s+agent|the\s+agent|they|and|but|or|,)\s+", re.IGNORECASE)


def _clean(clause: str) -> str:
    clause = clause.strip().strip(".,;:!?").strip()
    while True:
        trimmed = _LEAD.sub("", clause)
        if trimmed == clause:
            return clause
        clause = trimmed


def _is_negation(sentence: str) -> bool:
    return bool(_CUE.search(sentence) or _SUBJECT_NEG.search(sentence.strip()))


def prose_negations(text: str) -> list[str]:
    """The clauses ``text`` says the agent does *not* do, e.g. ``["write replies"]``.

    Each cue starts a clause that runs to the next cue or the end of the
    sentence: "It does not write tests and it does not debug crashes" gives
    "write tests" and "debug crashes".
    """
    out: list[str] = []
    for sentence in _SENTENCE.split(text):
        subject = _SUBJECT_NEG.search(sentence.strip())
        if subject:
            out.append(_clean(subject.group("subject")))
        cues = list(_CUE.finditer(sentence))
        for i, cue in enumerate(cues):
            end = cues[i + 1].start() if i + 1 < len(cues) else len(sentence)
            clause = _clean(sentence[cue.end() : end])
            clause = re.sub(r"\s+(?:and|or|but)(?:\s+(?:it|they))?$", "", clause, flags=re.I)
            if len(clause) > 2:
                out.append(clause)
    return [c for c in out if c]


def positive_text(text: str) -> str:
    """``text`` without its negated sentences: what the agent says it *does*."""
    kept = [s for s in _SENTENCE.split(text) if s.strip() and not _is_negation(s)]
    return " ".join(kept)


def card_not_skills(card: CapabilityCard) -> list[str]:
    """Explicit ``not_skills`` followed by the negations found in the description."""
    seen = {s.strip().lower() for s in card.not_skills}
    extra = [n for n in prose_negations(card.description) if n.lower() not in seen]
    return [*card.not_skills, *extra]


def card_positive_text(card: CapabilityCard) -> str:
    """Description (negations removed) and skills: the card document's text."""
    return "\n".join([positive_text(card.description), *card.skills])
