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
whatever follows, except where they point elsewhere:

- ``both X and Y`` joins two things of the piece itself (``compare both
  Postgres and MySQL``, ``in both English and French``); ``both`` before a
  verb's ``and`` still refers back (``compare both options and pick one``,
  ``compare both and recommend one``): what follows ``and`` decides, a verb
  with its object (``pick one``, ``write a summary``) or a noun phrase;
- ``these``/``those`` before a colon and the material it introduces
  (``translate these phrases: good morning, thank you``), before ``who``
  (``email those who replied``), or in a comparison within the piece
  (``compare the EU's tariffs with those of Norway``).

A number without ``the``/``all`` (``three options``, ``the top 3 vendors``)
never refers back. Quoted text is the user's material, not words addressed
to us: ``translate "those were the days"`` or ``"is it raining?"`` refers to
nothing. And nothing refers back where there is nothing earlier: the first
piece of a task (``compare both options in the report``) waits for nobody.
"""

from __future__ import annotations

import re

from weft.runtime.memory.lexicon import OPERATIONS

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
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
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


#: Quoted text (``"those were the days"``, ``'is it on?'``, `` `both` ``); a single quote
#: only where no letter touches it from outside, so ``it's`` and ``users'`` stay words.
_QUOTED = re.compile(
    r"\"[^\"]*\"|\u201c[^\u201d]*\u201d|\u2018[^\u2019]*\u2019|`[^`]*`|(?<!\w)'[^'\n]*'(?!\w)"
)
#: What quoted text is read as: a word that is material, not a reference.
_QUOTED_WORD = "quoted"
_QUOTE_MARK = f" {_QUOTED_WORD} "
#: Where a clause ends, for ``both X and Y`` and ``these ...:``.
_CLAUSE_END = re.compile(r"[.,;:!?()]")
_SENTENCE_STOP = re.compile(r"[.;!?]")
#: Words that follow a verb as (the start of) its object or complement: after ``both
#: options and``, ``pick one`` or ``say which`` is a verb of the piece, not a second noun.
_OBJECT_WORDS = _wordset(
    """the a an this that these those it its them their his her our my your one ones
    which why how what whether who up out"""
)
#: ``these``/``those`` followed by one of these words points ahead, at people to come.
_PEOPLE_AHEAD = _wordset("who whom whose")
#: ``with those of Norway``: a comparison within the piece.
_WITHIN = re.compile(
    r"\b(?:with|than|as|to|like|and)\s+(?:these|those)\s+(?:of|in|from|for|at|on)\b",
    re.IGNORECASE,
)


def _unquoted(text: str) -> str:
    """``text`` with each quoted passage replaced by a plain word: what is quoted is the
    user's material, and its ``those`` or ``it`` refer to nothing of the task."""
    return _QUOTED.sub(_QUOTE_MARK, text)


def _words_of(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def _verb_phrase(words: list[str]) -> bool:
    """Whether ``words`` start with a verb: a known one (``write``), or a word followed at
    once by an object (``pick one``, ``keep it``, ``say which``)."""
    return bool(words) and (
        words[0] in OPERATIONS or (len(words) > 1 and words[1] in _OBJECT_WORDS)
    )


def _joins_two_things(text: str, end: int) -> bool:
    """Whether the ``both`` ending at ``end`` is ``both X and Y`` within its clause
    (``both Postgres and MySQL``), not the results before and a verb of the piece
    (``both options and pick one``, ``both and recommend one``)."""
    clause = _CLAUSE_END.split(text[end:], maxsplit=1)[0]
    words = _words_of(clause)
    if not words or words[0] == "of":  # "both of the reports": the results before
        return False
    try:
        at = words.index("and", 1, 5)  # at least one word of X, and X short
    except ValueError:
        return False
    second = words[at + 1 : at + 3]
    return bool(second) and not _verb_phrase(second)


def _points_ahead(text: str, start: int, end: int) -> bool:
    """Whether the ``these``/``those`` at ``start:end`` points elsewhere than the results
    before: at people to come (``those who``), at a list after a colon (``these phrases:
    good morning, thank you``), or at a noun of its own piece (``with those of Norway``)."""
    following = _words_of(text[end:])
    if following and following[0] in _PEOPLE_AHEAD:
        return True
    if any(m.start() <= start < m.end() for m in _WITHIN.finditer(text)):
        return True
    sentence = _SENTENCE_STOP.split(text[end:], maxsplit=1)[0]
    phrase, colon, material = sentence.partition(":")
    if not colon or not material.strip() or _CLAUSE_END.search(phrase):
        return False
    # "these two: which is cheaper?" asks about the results; "these: a, b" lists new ones
    listed = material.strip()
    first = _words_of(listed)
    if first and (first[0] in _OBJECT_WORDS or _verb_phrase(first)):
        return False
    return "," in listed or " and " in listed or _QUOTED_WORD in first


def _points_back(text: str, found: re.Match[str]) -> bool:
    """Whether the word ``found`` by ``_SEVERAL`` refers back, read in its place."""
    word = found.group(0).lower()
    if word == "both":
        return not _joins_two_things(text, found.end())
    if word in ("these", "those"):
        return not _points_ahead(text, found.start(), found.end())
    return True


def refers_back(text: str) -> bool:
    """Whether ``text`` refers back to an earlier result (``it``, ``the result``); quoted
    text does not count (``translate "is it raining?"``)."""
    return _ONE.search(_unquoted(text)) is not None


def refers_back_to_several(text: str, earlier: int) -> bool:
    """Whether ``text`` refers back to several earlier results (``compare them``, ``all
    three``); ``earlier`` is how many results it would wait for (see the module docstring).
    With none earlier (the task's first piece) nothing refers back."""
    if earlier < 1:
        return False
    text = _unquoted(text)
    if any(_points_back(text, found) for found in _SEVERAL.finditer(text)):
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
