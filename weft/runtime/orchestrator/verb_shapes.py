"""Telling a verb by its shape, for the rule planner's shared verb (``rule_planner`` rule 5).

The rule planner has no part-of-speech tagger, and the reuse lexicon's verb
table (``weft.runtime.memory.lexicon.OPERATIONS``) lists the verbs that name
an operation, not every verb a task may start with (``report on``,
``reflect on``, ``quantify``). So a piece also *starts with a verb* when

- its first word has a verb's ending (``-ize``, ``-ise``, ``-yze``, ``-yse``,
  ``-ify``), except the nouns and adjectives that share it (``enterprise``,
  ``exercise``...): ``looks_like_verb``;
- its second word is a particle that follows a verb more often than a noun
  (``PARTICLES``: ``report on solar``, ``sum up the costs``). Prepositions
  that follow nouns as often as verbs (``for``, ``to``, ``with``, ``of``,
  ``in``, ``from``) are not in it: ``costs for solar`` is a noun phrase.

The rule planner reads a piece that lends its verb with ``PARTICLES``: a
noun phrase taken for a verb lends a phrase that still reads well (``Data
on solar then wind``: ``Data on wind``). The piece that would borrow is read
with ``PHRASAL`` only (``up``, ``out``, ``off``, ``down``, ``back``): ``then
wind on the coast`` and ``then facts about wind`` are noun phrases far more
often than verbs, and borrowing makes them steps (``Research wind on the
coast``), while a verb such as ``then back up the logs`` keeps its own.
"""

from __future__ import annotations


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words that follow a verb as its particle (``sum up``, ``report on``), rarely a noun.
PARTICLES = _wordset("up down out off back on about over through into")
#: The particles that follow a noun more rarely still (``wind on the coast``, ``facts
#: about wind`` are noun phrases; ``back up the logs`` is a verb).
PHRASAL = _wordset("up down out off back")

_ENDINGS = ("ize", "ise", "yze", "yse", "ify")

#: Words with a verb's ending that are rarely an imperative verb at the start of a step.
_NOT_VERBS = _wordset(
    """enterprise expertise franchise merchandise premise treatise paradise noise poise
    promise compromise exercise surprise otherwise likewise clockwise size prize seize
    wise rise raise praise cruise concise precise chemise demise reprise"""
)


def looks_like_verb(word: str) -> bool:
    """Whether ``word`` (lower case) has a verb's ending and is not a known exception."""
    return len(word) > 5 and word.endswith(_ENDINGS) and word not in _NOT_VERBS
