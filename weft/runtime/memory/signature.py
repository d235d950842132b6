"""A task read as (operation, deliverable, subject, parameters): what decides "same plan".

``signature(task)`` is pure and fast (no model). It

1. finds the *parameters* -- quoted strings, numbers and ids, dates, file
   names and URLs, formats, languages, capitalised names -- and masks each as
   a slot (``{NAME}``, ``{NUM}``...), keeping their values in order so that a
   past plan can be refilled with the new task's values (``template.py``);
2. finds the *operations*: the verbs at clause starts (after "and", "to",
   commas and sentence ends: "export", "draft and send", "...; please write"),
   verbs as participles ("the form translated into"), phrasal verbs ("back
   up", "set up") and nouns that name one ("a comparison of"), each reduced
   to a canonical class by ``lexicon.OPERATIONS`` (write = draft = compose),
   and counts the *steps* (clauses naming a specific operation);
3. finds the *deliverables* (report, chart, email...) in the noun phrase the
   operation acts on, with the modifier when the head alone is vague ("meal
   plan" against "lesson plan"), and their bare *heads*;
4. keeps the rest as the *subject* words, the words the first verb acts on
   as its *objects*, and the task's *skeleton* (operation, slots and
   prepositions: "<translate> * into {LANG}").

``decision.check`` compares two signatures: operations, steps and
deliverables must agree; the subject is left to the embedding similarity
and a word overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from weft.runtime.memory import lexicon as lx

_QUOTED = re.compile('"[^"]+"|\u201c[^\u201d]+\u201d|\u2018[^\u2019]+\u2019|`[^`]+`')
_URL = re.compile(
    r"\b(?:https?://\S+|[\w.+-]+@[\w-]+\.[\w.]+|(?:[\w-]+\.)+(?:com|org|net|io|dev|ai|co|de|fr|uk|edu|gov)\b)"
)
_FILE = re.compile(r"(?<![\w$])(?:[\w-]+/)*[\w-]+\.(?:[a-z][a-z0-9]{0,4})\b")
_NUMBER = re.compile(
    r"(?<!\w)(?:[#$€£]\s?)?\d[\d,.:]*(?:st|nd|rd|th|am|pm|k|m|%|s)?(?!\w)|\bq[1-4]\b|\bh[12]\b",
    re.IGNORECASE,
)
_WORD = re.compile("[A-Za-z][A-Za-z'\u2019-]*|\\{[A-Z]+\\}|[.!?;:,]")
#: Punctuation kept as tokens: it ends a clause ("...; please write a reply").
_PUNCT = frozenset(".!?;:,")
_SENTENCE_END = frozenset(".!?")
#: Words a full stop follows without ending the sentence ("Dr. Patel").
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "ms", "mrs", "st", "vs", "etc", "jr", "sr", "prof", "e", "g"}
)
_PHRASAL = {
    ("back", "up"): "backup",
    ("set", "up"): "install",
    ("put", "together"): "produce",
    ("come", "up"): "produce",
    ("look", "up"): "research",
    ("look", "into"): "research",
    ("find", "out"): "research",
    ("figure", "out"): "calculate",
    ("work", "out"): "calculate",
    ("call", "off"): "cancel",
    ("break", "down"): "analyze",
    ("turn", "into"): "convert",
    ("write", "up"): "produce",
    ("sum", "up"): "summarize",
    ("clean", "up"): "clean",
    ("follow", "up"): "send",
    ("sign", "up"): "register",
    ("pull", "out"): "extract",
}
_TLDR = re.compile(r"\btl;\s?dr\b", re.IGNORECASE)
_CLAUSE_BREAK = frozenset(
    {"and", "then", "to", ",", ";", ":", ".", "!", "?", "also", "&", "plus", "or"}
)
#: Breaks after which an unknown word with an object is another step ("... and record it").
_STEP_BREAK = frozenset({"and", "then", ";", ".", "!", "?", "also", "plus", "&"})
_SUFFIXES = ("ing", "ed", "es", "s", "e")


@dataclass(frozen=True)
class Signature:
    """What a task asks for, apart from its parameters."""

    text: str
    masked: str
    """The task with each parameter replaced by its slot: ``Translate the guide into {LANG}``."""
    operations: frozenset[str]
    deliverables: frozenset[str]
    subject: frozenset[str]
    slots: tuple[tuple[str, str], ...] = field(default=())
    """(kind, value) of each parameter, in order of appearance."""
    objects: frozenset[str] = field(default=frozenset())
    """Words of the noun phrase right after the first operation verb ("the total interest")."""
    steps: int = 1
    """How many clauses name an operation ("deduplicate ... and normalize ..." is two)."""
    heads: frozenset[str] = field(default=frozenset())
    """The deliverables without their modifiers ("list" for "customer list")."""
    skeleton: str = ""
    """The task's shape from its first operation on: operations, slots and prepositions,
    each run of other words one ``*`` ("translate * into {LANG}")."""

    @property
    def understood(self) -> bool:
        """Whether an operation the lexicon knows was read (not just an unknown first word)."""
        return bool(self.operations) and self.operations <= _KNOWN_OPERATIONS

    @property
    def specific(self) -> bool:
        """Whether an operation other than the generic "make it" is asked for."""
        return bool(self.operations - {"produce"})

    def describe(self) -> str:
        ops = ",".join(sorted(self.operations)) or "-"
        out = ",".join(sorted(self.deliverables)) or "-"
        return f"operation {ops}; deliverable {out}"


def _base(word: str, table: dict[str, str]) -> str | None:
    """``word`` or a simple inflection of it found in ``table`` (translated -> translate)."""
    if word in table:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            for candidate in (stem, stem + "e", stem[:-1] if stem[-1:] == stem[-2:-1] else ""):
                if candidate and candidate in table:
                    return candidate
            if suffix == "es" and stem + "e" in table:
                return stem + "e"
        if suffix == "ies" and word.endswith("ies"):
            candidate = word[:-3] + "y"
            if candidate in table:
                return candidate
    if word.endswith("ies") and word[:-3] + "y" in table:
        return word[:-3] + "y"
    return None


def _noun(word: str) -> str:
    """Singular of a plural noun, good enough for the deliverable table."""
    if word in lx.DELIVERABLES or len(word) <= 3:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and word[:-1] in lx.DELIVERABLES:
        return word[:-1]
    return word


def _mask(text: str) -> tuple[str, list[tuple[str, str]]]:
    slots: list[tuple[str, str]] = []
    spans: list[tuple[int, int, str]] = []

    def take(pattern: re.Pattern[str], kind: str) -> None:
        for m in pattern.finditer(text):
            if not any(s < m.end() and m.start() < e for s, e, _ in spans):
                spans.append((m.start(), m.end(), kind))

    take(_QUOTED, "TEXT")
    take(_URL, "FILE")
    take(_FILE, "FILE")
    take(_NUMBER, "NUM")
    spans.sort()
    out, pos = [], 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        out.append(f"{{{kind}}}")
        slots.append((kind, text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out), slots


def _word_slot(word: str, lower: str, first: bool) -> str | None:
    """The slot kind of one word, or None when it is a plain word."""
    if lower in lx.LANGUAGES:
        return "LANG"
    if lower in lx.FORMATS and lower not in ("word", "sql", "md"):
        return "FORMAT"
    if (lower in lx.MONTHS and (lower != "may" or word[0].isupper()) and lower != "march") or (
        lower == "march" and word[0].isupper()
    ):
        return "DATE"
    if lower in lx.WEEKDAYS or lower in lx.FREQUENCIES:
        return "DATE"
    if lower in lx.NUMBER_WORDS or re.fullmatch(r"[a-z]+-(?:day|week|month|year|hour)s?", lower):
        return "NUM" if lower.split("-")[0] in lx.NUMBER_WORDS or "-" not in lower else None
    if not first and word[0].isupper() and lower not in ("i", "i'd", "i'm", "i'll"):
        return "NAME"
    if sum(c.isupper() for c in word) >= 2:  # acronyms and CamelCase: AWS, OpenAI
        return "NAME"
    return None


def signature(task: str) -> Signature:
    """Read ``task``; see the module docstring. Never fails; an empty task has empty parts."""
    masked_text, slots = _mask(_TLDR.sub("tldr", task.strip()))
    raw_words = _WORD.findall(masked_text)
    tokens: list[str] = []  # lower-case words and slot markers
    masked_words: list[str] = []
    sentence_start = True
    previous = ""
    for word in raw_words:
        after, previous = previous, word.lower()
        if word in _PUNCT:
            if word == "." and after in _ABBREVIATIONS:
                continue  # "Dr. Patel": not the end of a sentence
            sentence_start = sentence_start or word in _SENTENCE_END
            tokens.append(word)
            continue
        if word.startswith("{"):
            tokens.append(word)
            masked_words.append(word)
            sentence_start = False
            continue
        lower = word.lower().replace("\u2019", "'")
        kind = _word_slot(word, lower, sentence_start)
        sentence_start = False
        if kind is not None:
            if tokens and tokens[-1] == f"{{{kind}}}":  # "Wells Fargo" is one name
                slots[-1] = (kind, slots[-1][1] + " " + word) if slots else (kind, word)
                continue
            tokens.append(f"{{{kind}}}")
            masked_words.append(f"{{{kind}}}")
            slots.append((kind, word))
            continue
        tokens.append(lower)
        masked_words.append(lower)
    # slots from words come after regex slots in the list; order them by position
    ordered = _order_slots(task, slots)
    operations, steps, verbs = _operations(tokens, masked_text)
    deliverables, nominal = _deliverables(tokens, verbs)
    if nominal:
        operations = (operations - {"produce"}) | nominal
    if len(operations) > 1:  # "I need it summarized": the generic verb gives way
        operations.discard("produce")
    if not operations and deliverables:
        operations = {"produce"}
    used = set(lx.OPERATIONS) | set(lx.DELIVERABLES) | set(lx.NOMINAL_OPERATIONS)
    subject = frozenset(
        _noun(t)
        for t in tokens
        if not t.startswith("{")
        and t not in lx.FILLER
        and t not in lx.PREFIX_WORDS
        and _noun(t) not in used
        and len(t) > 2
    )
    return Signature(
        text=task,
        masked=" ".join(masked_words),
        operations=frozenset(operations),
        deliverables=frozenset(deliverables),
        subject=subject,
        slots=tuple(ordered),
        objects=_objects(tokens, operations),
        steps=max(steps, 1),
        heads=frozenset(d.rsplit(" ", 1)[-1] for d in deliverables),
        skeleton=_skeleton(tokens, verbs),
    )


_SKELETON_WORDS = frozenset(
    {"of", "on", "about", "for", "from", "in", "into", "with", "at", "by", "to", "and", "as"}
)


def _skeleton(tokens: list[str], verbs: set[int]) -> str:
    """See ``Signature.skeleton``; empty when no operation verb was read."""
    if not verbs:
        return ""
    out: list[str] = []
    skip = -1
    for i in range(min(verbs), len(tokens)):
        tok = tokens[i]
        if i == skip:
            continue
        if i in verbs:
            phrasal = _PHRASAL.get((tok, tokens[i + 1] if i + 1 < len(tokens) else ""))
            base = _base(tok, lx.OPERATIONS)
            word = f"<{phrasal or (lx.OPERATIONS[base] if base else tok)}>"
            skip = i + 1 if phrasal else -1
        elif tok.startswith("{") or tok in _SKELETON_WORDS:
            word = tok
        elif tok in lx.FILLER or tok in _PUNCT:
            continue
        else:
            word = "*"
        if not (word == "*" and out and out[-1] == "*"):
            out.append(word)
    return " ".join(out)


_OBJECT_END = _CLAUSE_BREAK | frozenset(
    {"of", "on", "for", "from", "in", "into", "with", "about", "at", "by", "over", "under", "via"}
)


def _objects(tokens: list[str], operations: set[str]) -> frozenset[str]:
    """The content words between the first verb of one of ``operations`` that has any and
    the next preposition or clause (none when a noun names the operation: "a summary")."""
    for i, tok in enumerate(tokens):
        if tok.startswith("{") or tok in lx.PREFIX_WORDS:
            continue
        base = _base(tok, lx.OPERATIONS)
        if base is None or lx.OPERATIONS[base] not in operations:
            continue
        words = set()
        for word in tokens[i + 1 :]:
            if word in _OBJECT_END:
                break
            if not word.startswith("{") and word not in lx.FILLER and len(word) > 2:
                words.add(_noun(word))
        if words:  # "find and fix the typos": the object is the last verb's
            return frozenset(words)
    return frozenset()


def _order_slots(task: str, slots: list[tuple[str, str]]) -> list[tuple[str, str]]:
    positioned = []
    cursor: dict[str, int] = {}
    for kind, value in slots:
        at = task.find(value, cursor.get(value, 0))
        cursor[value] = at + 1 if at >= 0 else 0
        positioned.append((at if at >= 0 else len(task), kind, value))
    positioned.sort(key=lambda item: item[0])
    return [(kind, value) for _, kind, value in positioned]


def _operations(tokens: list[str], masked_text: str) -> tuple[set[str], int, set[int]]:
    """(operations, how many clauses name a specific one, positions of the verbs read)."""
    found: set[str] = set()
    clause_start = True
    unknown_first: str | None = None
    verbs: set[int] = set()
    steps = 0
    brk = ""
    for i, tok in enumerate(tokens):
        if tok in _CLAUSE_BREAK:
            clause_start, brk = True, tok
            continue
        if tok.startswith("{"):
            clause_start = False
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        phrasal = _PHRASAL.get((tok, nxt))
        if clause_start and tok in lx.PREFIX_WORDS and phrasal is None:
            if tok in ("need", "needs", "want", "wants", "like"):
                found.add("produce")
            continue
        base = _base(tok, lx.OPERATIONS)
        if clause_start and _noun(tok) in lx.DELIVERABLES and _noun(nxt) in lx.DELIVERABLES:
            clause_start = False  # "(need) release notes": a noun phrase, not a verb
            continue
        if clause_start:
            op = phrasal or (lx.OPERATIONS[base] if base is not None else None)
            if op is None and found and brk in _STEP_BREAK and _verb_shaped(tok, nxt):
                op = tok  # "... and record a voice-over": a verb the tables do not know
            if op is not None:
                found.add(op)
                verbs.add(i)
                steps += op != "produce"
            elif (
                unknown_first is None
                and not found
                and tok not in lx.FILLER
                and _base(tok, lx.DELIVERABLES) is None
                and tok not in lx.SOFT_MODIFIERS
            ):
                unknown_first = tok
                verbs.add(i)
            clause_start = False
            continue
        if tok in ("needs", "need", "wants"):
            found.add("produce")
        elif tok.endswith("ed") and base is not None and lx.OPERATIONS[base] != "produce":
            found.add(lx.OPERATIONS[base])  # "the form translated into Portuguese"
            verbs.add(i)
    if not found and unknown_first is not None:
        found.add(unknown_first)
        steps = 1
    return found, steps, verbs


_OBJECT_START = frozenset({"a", "an", "the", "it", "them", "this", "these", "those", "all"}) | {
    "our",
    "my",
    "your",
    "their",
}


def _verb_shaped(tok: str, nxt: str) -> bool:
    """An unknown word opening a later clause reads as a verb when an object follows it."""
    return (
        tok not in lx.FILLER
        and _base(tok, lx.DELIVERABLES) is None
        and (nxt in _OBJECT_START or nxt == "{NUM}")
    )


def _deliverables(tokens: list[str], verbs: set[int]) -> tuple[set[str], set[str]]:
    """(deliverables, operations named by nouns).

    Only the noun phrases the operation acts on count: once a clause has a deliverable,
    one after a preposition is its topic ("a blog post about our app release" delivers a
    post, not a release; "put the numbers on a slide" delivers the slide), one right
    before another deliverable word modifies it ("budget spreadsheet"), and the clause's
    own verb is not one ("Schedule a meeting", "Plan a trip").
    """
    out: set[str] = set()
    nominal: set[str] = set()
    in_topic = have = False
    for i, tok in enumerate(tokens):
        if tok in _CLAUSE_BREAK - {"to"}:
            in_topic = have = False
            continue
        if tok in _TOPIC_START:
            in_topic = True
            continue
        if tok.startswith("{") or i in verbs:
            continue
        noun = _noun(tok)
        if noun in lx.NOMINAL_OPERATIONS and (i == 0 or tokens[i - 1] in _DETERMINERS_OR_ADJ):
            if not in_topic:
                nominal.add(lx.NOMINAL_OPERATIONS[noun])
            continue
        head = lx.DELIVERABLES.get(noun)
        if head is None or (in_topic and have):
            continue  # "notes for the slide deck": the deck is what the notes are about
        have = True
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _noun(nxt) in lx.DELIVERABLES and nxt not in lx.NOMINAL_OPERATIONS:
            continue  # a modifier of the next word: "budget spreadsheet", "blog post"
        if head in lx.COMPOUND_HEADS and i > 0:
            mod = tokens[i - 1]
            plain = not mod.startswith("{") and mod not in lx.SOFT_MODIFIERS
            if (
                plain
                and mod not in lx.FILLER
                and (_base(mod, lx.OPERATIONS) is None or mod in lx.DELIVERABLES)
            ):
                out.add(f"{_noun(mod)} {head}")
                continue
        out.add(head)
    return out, nominal


_KNOWN_OPERATIONS = frozenset(
    set(lx.OPERATIONS.values()) | set(_PHRASAL.values()) | set(lx.NOMINAL_OPERATIONS.values())
)

#: Prepositions that open the topic of a deliverable rather than the deliverable itself.
_TOPIC_START = frozenset(
    {"of", "on", "about", "for", "from", "in", "into", "with", "at", "by", "over", "regarding"}
)

_DETERMINERS_OR_ADJ = lx.SOFT_MODIFIERS | frozenset(
    {"a", "an", "the", "my", "our", "your", "short", "quick", "brief", "full", "detailed", "cost"}
)
