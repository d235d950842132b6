"""Planning without an LLM: the task's own structure becomes the plan.

Deterministic rules, in order:

1. **Lists.** If the task has list lines, each item is a subtask and the text
   before the list is dropped (it is the framing, and the final answer sees
   the task anyway). Items of a numbered list (``1.``, ``1)``, ``Step 1:``)
   are steps: each waits for the one before. Bullet items (``-``, ``*``,
   ``•``) are independent.
2. **Sentences.** Otherwise the task is split into sentences (``.``, ``!``,
   ``?``, ``;``; not after an abbreviation such as ``e.g.``, ``etc.`` or
   ``Dr.``) and each sentence again at ``and then`` / ``then`` / ``after
   that`` / ``afterwards`` / ``finally``.
3. **Continuations.** A sentence that only goes on with the one before is no
   subtask of its own: it stays with the previous piece. That is a sentence
   that starts with a pronoun, a determiner or a preposition (``It traces
   them.``, ``The text is: ...``, ``In French.``; a leading phrase before a
   comma does not count: ``For each file, count the lines.`` is a step), and
   a short follow-up question (``Which is faster?``, ``Why?``), and a sentence
   that says what *not* to do (``I don't want it translated.``, ``Don't book
   anything.``): a limit of the step before (of the step after, when it comes
   first: ``Don't translate it. Summarise it.``), which an agent would otherwise
   get as a step of its own and do. A list item
   that starts with a pronoun (``it``, ``they``...) stays with the item before.
   So ``"Weft runs agents. It traces them."`` is one subtask, not a second one
   about "it" that no agent could make sense of.
4. **Order.** A piece that starts with ``then`` / ``after that`` /
   ``afterwards`` / ``next`` depends on the piece before it; one that starts
   with ``finally`` / ``lastly`` / ``in the end`` depends on every piece
   before it. A piece that refers back to one earlier result (``it``,
   ``its``, ``the result``) depends on the piece before it, whose output it
   then gets: a subtask only sees its own text and its dependencies' results,
   never the rest of the task. One that refers back to several (``them``,
   ``their``, ``both``, ``these``, ``the results``, ``the two``, ``all
   three``), with or without ``then``, depends on every piece since the last
   ``finally`` piece (that one included). A number counts something new
   rather than referring back in ``the three biggest suppliers`` (a ranking
   word) or ``the three suppliers`` after one research (not the number of
   results it would wait for), nor does ``both X and Y`` within the piece, a
   ``these``/``those`` that points at what follows (``translate these
   phrases: ...``, ``those who``) or a word in quoted text:
   ``back_references`` says how. Other pieces are
   independent, so they run in parallel. Leading ``first``, ``also``,
   ``please`` are dropped.
5. **Shared verb.** A piece that begins with an ordering word and has no
   verb of its own borrows the verb of the piece before, the way a person
   reads ``"Research solar then wind power"``: ``Research solar`` and
   ``Research wind power``. Without a part-of-speech tagger, a piece *starts
   with a verb* when its first word is a verb of the reuse lexicon
   (``weft.runtime.memory.lexicon.OPERATIONS``: research, compare,
   summarise...), has a verb's ending (``quantify``, ``tokenise``:
   ``verb_shapes``), or is directly followed by its object, a determiner or a
   pronoun (``profile the market``, ``graph their costs``) or by a verb's
   particle (``report on solar``, ``sum up``, ``blog about``; for the piece
   that would borrow, only a particle that seldom follows a noun, ``sum up``,
   ``back up``: ``then wind on the coast`` borrows). The piece borrows
   when the piece before starts with a verb and the piece itself does not,
   starts with a noun phrase (not with a pronoun, a preposition, a question
   word or an auxiliary: ``then it traces them`` is a clause of its own) and
   has no auxiliary (``then the results are charted``). The borrowed verb is
   the first word of the piece before, with a particle or preposition right
   after it (``look up``, ``report on``). Pieces with their own verb stay as
   they are: ``"Research solar, then compare it with wind"``.
6. **Capability.** The first four content words of the piece (the router
   reads the whole description too).
7. **Budget.** Pieces beyond ``max_subtasks`` are merged into the last one.

So ``"Research solar power. Research wind power. Finally compare them."`` is
two parallel research subtasks and a comparison that waits for both, and so
are ``"... Compare them."`` and ``"... Then compare them."``, while
``"... Then summarise it."`` would wait for the second research only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weft.runtime.memory.lexicon import OPERATIONS
from weft.runtime.orchestrator.back_references import refers_back, refers_back_to_several
from weft.runtime.orchestrator.plan import Plan, PlanFailure, Subtask
from weft.runtime.orchestrator.planners import PlanOutcome, PlanRequest
from weft.runtime.orchestrator.validator import PlanValidator
from weft.runtime.orchestrator.verb_shapes import PARTICLES as _PARTICLES
from weft.runtime.orchestrator.verb_shapes import PHRASAL as _PHRASAL
from weft.runtime.orchestrator.verb_shapes import looks_like_verb
from weft.runtime.routing.instruction import negated


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_BULLET = re.compile(r"^\s*[-*•]\s+(.*\S)\s*$")
_NUMBERED = re.compile(r"^\s*(?:step\s+\d+\s*[.):]|\d+[.)])\s+(.*\S)\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
#: Words that end in a dot without ending a sentence (compared lower case, dot removed).
_ABBREVIATIONS = _wordset("e.g i.e etc vs cf approx incl dr mr mrs ms prof st jr sr no fig ca resp")
_THEN = re.compile(
    r"\s*,?\s*(?:\band\s+)?\b(?=(?:then|after that|afterwards|finally)\b)", re.IGNORECASE
)
_SEQUENTIAL = re.compile(
    r"^(?:and\s+)?(?:then|after that|afterwards|next|subsequently)\b[\s,:]*", re.IGNORECASE
)
_FINAL = re.compile(
    r"^(?:and\s+)?(?:finally|lastly|last of all|in the end)\b[\s,:]*", re.IGNORECASE
)
_LEAD = re.compile(
    r"^(?:(?:first(?:ly)?(?: of all)?|to (?:start|begin)(?: with)?|also|additionally|please|and)"
    r"\b[\s,:]*)+",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "from",
        "at",
        "as",
        "it",
        "its",
        "this",
        "that",
    }
)
#: Pronouns that stand for something said before: a list item starting with one continues.
_PRONOUNS = _wordset("it its they them their theirs he she his her there")
#: First words of a sentence that goes on with the one before instead of asking for a step.
_CONTINUES = _PRONOUNS | _wordset(
    """this that these those such the a an both each either neither
    in into on onto for with without by from at as to about via per within under over
    like unlike than except including using"""
)
#: Follow-up questions this short (``Which is faster?``) are about the sentence before.
_FOLLOW_UP = frozenset({"which", "why", "how", "what"})
#: Words that start a noun phrase, or follow a verb as (the start of) its object.
_DETERMINERS = _wordset(
    """the a an this that these those its their his her our my your some any all each
    every both several many few more most other another no"""
)
_OBJECTS = _DETERMINERS | _PRONOUNS | _wordset("me us")
#: Words that give a piece a verb of its own (``then the results are charted``).
_AUXILIARIES = _wordset(
    "is are was were be been being has have had will would can could should may might must "
    "do does did"
)
#: First words of a piece that is not a noun phrase: a clause, a question, a phrase.
_NOT_NOUN_PHRASE = (
    (_CONTINUES - _DETERMINERS)
    | _FOLLOW_UP
    | _AUXILIARIES
    | _wordset("if when while because so not please who whom whose where")
)
#: Words that belong to the verb before them when it is borrowed (``look up``, ``report on``).
_VERB_TAIL = _wordset("up down out over off back through on into about for at to with from of")
_LEADING_WORDS = re.compile(r"\s*([A-Za-z][A-Za-z'-]*)(?:\s+([A-Za-z][A-Za-z'-]*))?")


@dataclass
class _Piece:
    """A candidate subtask: its text, its order, and how it began."""

    text: str
    order: str  # "free", "after_previous", "after_group" or "after_all"
    marked: bool  # began with an ordering word ("then", "finally", "next"...)
    sentence: bool  # a sentence of running text (not a list item)


def _sentences(text: str) -> list[str]:
    """``text`` cut at sentence ends, except after an abbreviation (``e.g.``, ``Dr.``)."""
    out: list[str] = []
    for part in _SENTENCE_END.split(text.strip()):
        if out and _ends_in_abbreviation(out[-1], part):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def _ends_in_abbreviation(sentence: str, following: str) -> bool:
    """Whether the dot ending ``sentence`` is an abbreviation's, given the text that follows
    (``etc.`` ends a sentence when a capital follows it; ``e.g.`` and ``Dr.`` never do)."""
    if not sentence.endswith("."):
        return False
    last = sentence.rsplit(None, 1)[-1].lstrip("([\"'").rstrip(".").lower()
    if last == "etc":
        return following[:1].islower()
    return last in _ABBREVIATIONS


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _continues(piece: _Piece) -> bool:
    """Whether ``piece`` only goes on with the piece before (rule 3)."""
    if piece.marked:
        return False  # "Then it ...": an ordering word makes it a step
    words = _words(piece.text)
    if not words:
        return True
    if not piece.sentence:
        return words[0] in _PRONOUNS
    if piece.text.endswith("?") and len(words) <= 3 and words[0] in _FOLLOW_UP:
        return True
    if negated(piece.text):
        return True  # "I don't want it translated.": a limit of the step before, not a step
    if words[0] not in _CONTINUES:
        return False
    # "For each file, count the lines": a leading phrase, then a step of its own
    _, comma, rest = piece.text.partition(",")
    after = _words(rest)
    own = after and after[0] not in _CONTINUES and after[0] != "please"
    return not (comma and own and rest.strip()[:1].islower())


def _starts_with_verb(words: list[str], particles: frozenset[str] = _PARTICLES) -> bool:
    """Whether a piece's first word is its verb (rule 5): a known verb, one that its
    object follows at once (``profile the market``) or one of ``particles`` (``report
    on``, ``sum up``), or one shaped like a verb (``quantify``, ``tokenise``)."""
    if not words or words[0] in _NOT_NOUN_PHRASE or words[0] in _DETERMINERS:
        return False
    first = words[0]
    if first in OPERATIONS or looks_like_verb(first):
        return True
    return len(words) > 1 and (words[1] in _OBJECTS or words[1] in particles)


def _borrowed_verb(previous: str, piece: _Piece) -> str:
    """The verb ``piece`` borrows from the piece before (rule 5), or ``""``."""
    if not piece.marked:
        return ""
    before, words = _words(previous), _words(piece.text)
    # the piece keeps its own verb only when sure: "then wind on the coast" borrows
    if len(before) < 2 or not _starts_with_verb(before) or _starts_with_verb(words, _PHRASAL):
        return ""
    if words[0] in _NOT_NOUN_PHRASE or any(w in _AUXILIARIES for w in words):
        return ""
    lead = _LEADING_WORDS.match(previous)
    if lead is None or lead.group(1).lower() != before[0]:
        return ""  # the piece before starts with punctuation or a number: leave it be
    verb, tail = lead.group(1), lead.group(2)
    return f"{verb} {tail}" if tail and tail.lower() in _VERB_TAIL else verb


def _join(first: str, second: str) -> str:
    end = "" if first.endswith((".", "!", "?", ":", ";")) else "."
    return f"{first}{end} {second[:1].upper()}{second[1:]}"


#: Words before a ``then`` that make it part of the clause (``it should then be
#: summarised``, ``which is then sent``, ``we then check``, ``back then``), not a new step.
_THEN_IN_CLAUSE = _AUXILIARIES | _wordset(
    "i we you they he she it which that who not only just even"
)
#: ... and words that make it a time (``since then``, ``back then``), which orders nothing.
_THEN_OF_TIME = _wordset("since until till by from back")
#: Words after ``then`` that make it a time too (``then and now``, ``from then on``).
_TIME_AFTER_THEN = ("and", "or", "on")
#: First words of a conditional whose ``then`` opens its main clause (``if it rains then
#: cancel the picnic``): the condition and the step are one piece.
_CONDITIONS = _wordset("if when whenever once unless")


def _step_parts(sentence: str) -> list[str]:
    """``sentence`` cut before each ``then``/``finally`` that opens a step of its own, and
    not where the word is part of a clause (``it should then be summarised``, ``paid
    then and now``, ``if it rains then cancel``): those cuts made pieces such as "It
    should" and "Be summarised", or "Clean sent to the model"."""
    parts: list[str] = []
    start = 0
    for match in _THEN.finditer(sentence):
        if match.start() > start and _opens_a_step(sentence, match):
            parts.append(sentence[start : match.start()])
            start = match.end()  # the joining ", and" dropped, the ordering word kept
    parts.append(sentence[start:])
    return [part for part in parts if part.strip()]


def _opens_a_step(sentence: str, match: re.Match[str]) -> bool:
    joined = "," in match.group() or "and" in match.group().lower()
    before, after = _words(sentence[: match.start()]), _words(sentence[match.end() :])
    if len(after) < 2 or after[1] in _TIME_AFTER_THEN:
        return False  # "as they were then.", "then and now", "from then on"
    if after[0] != "then" or joined:
        return True
    if before and before[-1] in _THEN_IN_CLAUSE | _THEN_OF_TIME:
        return False
    return not (before and before[0] in _CONDITIONS)


def _then_inside(text: str) -> bool:
    """Whether a ``then`` inside the piece's own clause orders it after the piece before
    (``we will then look for duplicates``; not ``back then``)."""
    words = _words(text)
    return any(
        word == "then"
        and 0 < i < len(words) - 1
        and words[i - 1] in _THEN_IN_CLAUSE
        and words[i + 1] not in _TIME_AFTER_THEN
        for i, word in enumerate(words)
    )


def _raw_pieces(task: str) -> list[_Piece]:
    """The task cut into list items, or into sentences and their ``then`` parts."""
    items: list[_Piece] = []
    for line in task.splitlines():
        numbered = _NUMBERED.match(line)
        bullet = None if numbered else _BULLET.match(line)
        if numbered:
            order = "after_previous" if items else "free"
            items.append(_Piece(numbered.group(1), order, marked=False, sentence=False))
        elif bullet:
            items.append(_Piece(bullet.group(1), "free", marked=False, sentence=False))
    if items:
        return items
    pieces: list[_Piece] = []
    for sentence in _sentences(task):
        for i, part in enumerate(_step_parts(sentence)):
            pieces.append(_Piece(part, "free", marked=i > 0, sentence=True))
    return pieces


def _pieces(task: str) -> list[_Piece]:
    """Rules 1-5: pieces with their order, continuations joined to the piece before, and a
    verbless piece given the verb of the piece before."""
    pieces: list[_Piece] = []
    held = ""  # what not to do, said before any step: it limits the first step
    for piece in _raw_pieces(task):
        text = piece.text.strip()
        if _FINAL.match(text):
            piece.order, piece.marked, text = "after_all", True, _FINAL.sub("", text, count=1)
        elif _SEQUENTIAL.match(text):
            piece.order, piece.marked = "after_previous", True
            text = _SEQUENTIAL.sub("", text, count=1)
        text = _LEAD.sub("", text.strip(), count=1).strip()
        piece.text = text
        if not text.rstrip(".;").strip():
            continue
        if not pieces and piece.sentence and negated(text):
            held = _join(held, text) if held else text
            continue
        if held and not pieces:
            piece.text = text = _join(held, text)
            held = ""
        if pieces and _continues(piece):
            pieces[-1].text = _join(pieces[-1].text, text)
            continue
        if pieces and (verb := _borrowed_verb(pieces[-1].text, piece)):
            piece.text = f"{verb} {text}"
        if pieces and piece.order != "after_all" and refers_back_to_several(text, _group(pieces)):
            piece.order = "after_group"
        elif pieces and piece.order == "free" and (refers_back(text) or _then_inside(text)):
            piece.order = "after_previous"  # "We will then look for duplicates"
        pieces.append(piece)
    if held:  # nothing but what not to do: one subtask, as written
        pieces.append(_Piece(held, "free", marked=False, sentence=True))
    return pieces


def _group(pieces: list[_Piece]) -> int:
    """How many results a piece after ``pieces`` that says ``them`` waits for: those
    since the last ``finally`` piece, that one included (``_group_start``)."""
    count = 0
    for piece in reversed(pieces):
        count += 1
        if piece.order == "after_all":
            break
    return count


def split_task(task: str) -> list[tuple[str, str]]:
    """``(order, text)`` pieces; order is ``"free"``, ``"after_previous"``,
    ``"after_group"`` or ``"after_all"``."""
    out: list[tuple[str, str]] = []
    for piece in _pieces(task):
        text = piece.text.strip().rstrip(".;").strip()
        out.append((piece.order, text[0].upper() + text[1:]))
    return out


def _group_start(pieces: list[tuple[str, str]], index: int) -> int:
    """Where the results ``them`` in piece ``index`` refers to begin: the piece
    before it and every earlier one back to the last ``finally`` (which already
    gathered what came before it), so ``"Research solar. Research wind. Compare
    them."`` compares both and not only the wind."""
    start = index - 1
    while start > 0 and pieces[start][0] != "after_all":
        start -= 1
    return max(start, 0)


def capability_phrase(text: str, words: int = 4) -> str:
    content = [w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP]
    return " ".join(content[:words]) or text[:40]


class RulePlanner:
    """A deterministic ``Planner``; see the module docstring for the rules."""

    def build(self, task: str, max_subtasks: int) -> Plan:
        pieces = split_task(task) or [("free", task.strip() or "(empty task)")]
        if len(pieces) > max_subtasks:
            head, tail = pieces[: max_subtasks - 1], pieces[max_subtasks - 1 :]
            pieces = [*head, (tail[0][0], " ".join(text for _, text in tail))]
        subtasks: list[Subtask] = []
        for index, (order, text) in enumerate(pieces):
            if order == "after_previous" and subtasks:
                deps = [subtasks[-1].id]
            elif order == "after_all":
                deps = [s.id for s in subtasks]
            elif order == "after_group":
                deps = [s.id for s in subtasks[_group_start(pieces, index) : index]]
            else:
                deps = []
            subtasks.append(
                Subtask(
                    id=f"s{index + 1}",
                    description=text,
                    capability=capability_phrase(text),
                    depends_on=deps,
                )
            )
        return Plan(subtasks=subtasks)

    async def plan(self, request: PlanRequest) -> PlanOutcome:
        plan = self.build(request.task, request.budget.max_subtasks)
        problems = PlanValidator(request.budget).problems(plan) or await request.check(plan)
        if problems:
            failure = PlanFailure(
                attempt=1,
                kind="invalid_plan",
                message="; ".join(problems),
                raw=plan.model_dump_json(),
            )
            return PlanOutcome(None, [failure])
        return PlanOutcome(plan)
