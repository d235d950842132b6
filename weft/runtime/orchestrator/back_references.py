"""Whether a piece of a task refers back to earlier results (the rule planner's rule 4).

A subtask only sees its own text and its dependencies' results, so a piece
that says ``it`` or ``compare them`` must wait for the pieces it means; a
piece that does not refer back must not, or it waits for nothing and is
handed results it has no use for.

Pronouns and ``the results`` are easy. Number words are not: ``compare the
two``, ``report on all three``, ``which of the two is warmer`` and ``these
three findings`` stand for earlier results, while ``list the three biggest
suppliers`` or ``name the two largest cities`` count something new. Without a
tagger, the words after the number decide (its noun phrase: the words up to
punctuation or a word that cannot be part of it, ``compare the two *and*
pick one``):

- no noun (``compare the two``, ``the three are``, ``rank the three by
  cost``) or a noun for results (``the two reports``, ``all three
  findings``): a back-reference;
- a ranking word (``the three biggest suppliers``, ``the two top vendors``):
  a selection out of something new, never a back-reference;
- any other noun (``all three technologies``, ``the three suppliers``): a
  back-reference only when the number is that of the results the piece would
  wait for, as ``all three technologies`` after three researches. After one
  research, ``the three suppliers`` cannot mean its results.

``these``/``those`` (``these three suppliers``) and ``both`` refer back
whatever follows; a number without ``the``/``all`` (``three options``, ``the
top 3 vendors``) never does.
"""

from __future__ import annotations

import re

__all__ = ["refers_back", "refers_back_to_several"]


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words of a piece that refer back to an earlier result.
_ONE = re.compile(
    r"\b(?:it|its|them|they|their|theirs|the (?:results?|outputs?|findings|above))\b",
    re.IGNORECASE,
)
#: Words that refer back to several earlier results, whatever follows them.
_SEVERAL = re.compile(
    r"\b(?:them|they|their|theirs|both|these|those|the (?:results|outputs|findings|above))\b",
    re.IGNORECASE,
)
_NUMBERS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
#: ``the``/``all`` and a number, not in a compound (``the two-day forecast``) nor
#: before ``of`` (``the two of us``; ``the two of them`` refers back by ``them``).
_COUNTED = re.compile(
    r"\b(?:the|all)\s+(" + "|".join(_NUMBERS) + r"|\d{1,2})\b(?![-'])(?!\s+of\b)",
    re.IGNORECASE,
)
_NEXT_WORD = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9'-]*)")
#: Nouns that name results: ``the two reports`` means the results before.
_RESULT_NOUNS = _wordset(
    "results findings answers outputs reports ones summaries responses analyses drafts"
)
#: Words that rank: ``the three biggest suppliers`` picks out of something new.
_RANKING = _wordset("best worst top most least first last next leading main")
#: Words ending in ``-est`` that are no superlative.
_NOT_SUPERLATIVE = _wordset(
    "interest interests forest forests request requests contest contests harvest harvests "
    "test tests west digest digests protest protests guest guests chest chests nest nests "
    "quest quests rest suggest manifest honest modest"
)
#: Words that end the noun phrase after a number (it then stands alone: ``the two and``).
_PHRASE_END = _wordset(
    """is are was were be been being has have had will would can could should may might must
    do does did
    in on at by for with without from to into onto about against between among across over
    under via per than like as of
    and or but nor then so yet
    it its they them their this that these those each both all one
    together again side closely carefully briefly directly also too above below here
    mentioned listed found given before earlier"""
)
#: Most words of a noun phrase read after the number.
_PHRASE_WORDS = 4


def refers_back(text: str) -> bool:
    """Whether ``text`` refers back to an earlier result (``it``, ``the result``)."""
    return _ONE.search(text) is not None


def refers_back_to_several(text: str, earlier: int) -> bool:
    """Whether ``text`` refers back to several earlier results (``compare them``, ``all
    three``); ``earlier`` is how many results it would wait for (see the module docstring)."""
    if _SEVERAL.search(text):
        return True
    for counted in _COUNTED.finditer(text):
        number = counted.group(1).lower()
        count = _NUMBERS[number] if number in _NUMBERS else int(number)
        if _stands_for_results(_noun_phrase(text, counted.end()), count, earlier):
            return True
    return False


def _noun_phrase(text: str, at: int) -> list[str]:
    """The words after a number at ``at``: up to punctuation or a word that ends the phrase."""
    phrase: list[str] = []
    while len(phrase) < _PHRASE_WORDS:
        word = _NEXT_WORD.match(text, at)
        if word is None or word.group(1).lower() in _PHRASE_END:
            break
        phrase.append(word.group(1).lower())
        at = word.end()
    return phrase


def _stands_for_results(phrase: list[str], count: int, earlier: int) -> bool:
    if not phrase or any(word in _RESULT_NOUNS for word in phrase):
        return True
    if any(_ranks(part) for word in phrase for part in word.split("-")):  # "best-known"
        return False
    return count == earlier


def _ranks(word: str) -> bool:
    """``biggest``, ``cheapest``, ``top``: a word that picks some out of many."""
    if word in _RANKING:
        return True
    return len(word) > 4 and word.endswith("est") and word not in _NOT_SUPERLATIVE
