"""What a subtask asks to *do*: its imperative clauses, apart from the context around them.

Users write a request as context plus an instruction: "Someone patched the
crash in the uploader; go over their patch and say if it is safe to merge",
"The ticket is already categorised as billing; now draft the reply". The
context names a topic (a crash, a ticket) that some other agent owns, and an
embedding of the whole text is pulled towards that agent. The operation is in
the instruction. So the router scores every candidate card against the whole
text *and* against the instruction alone (``imperative_clauses``), and the
operation's leading verb feeds the lexical operation bonus
(``operation_terms``).

Without a part-of-speech tagger, a clause is taken as imperative when its first
word (after "please", "now", "then" and -ly adverbs) looks like a verb in its
base form: not a question, pronoun or determiner word, not a past form
("patched"), a gerund ("training") or an -s form ("keeps", "reviewers"), and
not followed within two words by an auxiliary ("Memory keeps growing", "screen
readers can"). Clauses are split at sentence ends, ``;`` and ``:``, at commas
(a later part must start in lower case, so "me, Ana and Raj" is no clause),
at "so"/"then", and a leading subordinate clause ("After the fix lands, add a
test") is dropped. Questions have no imperative clause; for them the whole text
is the instruction and the embedding decides alone.

A clause the user negates ("I don't need it translated", "don't write the
replies", "no need to add tests") names work the request does *not* ask for,
and its words pull the embedding to the agent that does that work. Such
clauses are never instructions, and a request that has some but no imperative
clause gets the rest of its text as its instruction view (``affirmed_text``).

The whole text the router embeds leaves out the work the user does not want
("I don't need it translated", "not a description of the picture") or has done
already ("I already have the playlist - now write a poem for the card"):
``wanted_text``. A negation that states a problem ("I don't understand why it
fails") or a done clause that does ("the tests already fail") stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weft.runtime.routing.text import stem


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NOT_VERBS = _words(
    """what which who whom whose when where why how is are was were will would can could should
    do does did i we you my our your the a an this that these those it its there here if any some
    ok okay hi hello hey so after before once since because while given today tomorrow yesterday
    someone somebody everyone they he she his her their all each every no not only as for with
    from into about on in at by of to us me them one two three very"""
)
#: Verbs that end like an -ly adverb.
_LY_VERBS = _words("reply apply supply multiply comply rely bully tally rally sully")
#: Words that may come before the verb of an imperative clause.
_SKIP = _words(
    "please now then also just first next finally kindly quickly briefly simply let's let\u2019s"
)
_AUXILIARIES = _words(
    "is are was were has have had will would can could should may might must does did do "
    "keeps keep seems seem"
)
#: Past forms that do not end in -ed: "client sent over their NDA" has a subject, not a verb,
#: first ("sent" after it), as lower-case chat messages are written.
_IRREGULAR_PAST = _words(
    """sent got went came made said told wrote gave took left found ran sold bought paid lost
    forgot broke brought began kept held thought saw heard fell felt met spent built"""
)
#: Words after a past form that show it is the clause's verb ("customer asked for a refund").
_AFTER_PAST = _words("the a an their our my his her its your me us them for about to over up out")
#: Verbs that end like a past form or an -s form.
_EXCEPTIONS = _words("embed shed shred need feed seed speed proceed succeed exceed bleed breed")
_PARTICLES = _words("up down out over off back through")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")
_SUBORDINATE = re.compile(
    r"^(?:after|before|once|when|whenever|if|since|because|as\s+soon\s+as|now\s+that|while|"
    r"although|though|given\s+that)\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(
    r",\s*(?:so\s+|then\s+|and\s+then\s+)?|\s+so\s+(?=[a-z]+\s)|\band\s+then\s+"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*")


@dataclass(frozen=True, slots=True)
class Clause:
    """One imperative clause: its verb (with a particle: "go over") and its text from the verb."""

    verb: str
    text: str


def _verb_like(word: str, *, may_be_capital: bool) -> bool:
    if "'" in word or "\u2019" in word:
        return False  # I'm, it's, let's
    if not may_be_capital and word[:1].isupper():
        return False  # "..., Ana and Raj": a name, not a verb
    w = word.lower()
    if w in _NOT_VERBS or len(w) < 2 or w in _AUXILIARIES:
        return False
    if w in _EXCEPTIONS:
        return True
    if w.endswith("ing") and len(w) > 5:
        return False  # gerund or participle ("training"); "bring" and "sing" are verbs
    if w.endswith("ed"):
        return False  # past form: "Someone patched ..." is context
    return not (w.endswith("s") and not w.endswith(("ss", "us", "is")))


def _clauses(text: str) -> list[tuple[str, bool]]:
    """(clause, starts a sentence) pairs, subordinate lead-ins dropped."""
    out: list[tuple[str, bool]] = []
    for sentence in _SENTENCE.split(text.strip()):
        if _SUBORDINATE.match(sentence) and "," in sentence:
            sentence = sentence.split(",", 1)[1]
        for i, part in enumerate(_CLAUSE_BREAK.split(sentence)):
            if part.strip():
                out.append((part.strip(), i == 0))
    return out


def imperative_clauses(text: str) -> list[Clause]:
    """The clauses of ``text`` that tell the agent to do something, in order."""
    out: list[Clause] = []
    for clause, sentence_start in _clauses(text):
        words = _WORD.findall(clause)
        i = 0
        while i < len(words) and (words[i].lower() in _SKIP or _adverb(words[i].lower())):
            i += 1
        if i >= len(words) or not _verb_like(words[i], may_be_capital=sentence_start or i > 0):
            continue
        if any(w.lower() in _AUXILIARIES for w in words[i + 1 : i + 3]):
            continue  # "Memory keeps growing", "screen readers can describe"
        if _past_form_follows(words, i + 1):
            continue  # "client sent over their NDA": a subject and its verb

        verb = words[i].lower()
        if i + 1 < len(words) and words[i + 1].lower() in _PARTICLES:
            verb += " " + words[i + 1].lower()
        start = clause.find(words[i])
        out.append(Clause(verb=verb, text=clause[start:].strip()))
    return out


def _adverb(word: str) -> bool:
    """An -ly adverb before the verb ("quickly check ..."), not a verb like "reply"."""
    return word.endswith("ly") and len(word) > 4 and word not in _LY_VERBS


def _past_form_follows(words: list[str], i: int) -> bool:
    """Whether ``words[i]`` is a past form, so that the word before it is its subject."""
    if i >= len(words):
        return False
    w = words[i].lower()
    if w in _IRREGULAR_PAST:
        return True
    after = words[i + 1].lower() if i + 1 < len(words) else ""
    return w.endswith("ed") and w not in _EXCEPTIONS and after in _AFTER_PAST


#: Words a subject may take before its negation ("I don't need", "we do not want").
_SUBJECTS = _words("i we you i'd we'd")
_NEGATION = re.compile(
    r"^(?:don'?t|do\s+not|does\s+not|doesn'?t|no\s+need|not|never|without|nothing)\b"
)


def negated(clause: str) -> bool:
    """Whether ``clause`` says what the user does not want done ("I don't need it
    translated", "Don't book anything", "no need to add tests")."""
    words = clause.lower().replace("\u2019", "'").split()
    i = 0
    while i < len(words) and (words[i].strip(",;:") in _SKIP or words[i] in _SUBJECTS):
        i += 1
    return bool(_NEGATION.match(" ".join(words[i:])))


def affirmed_text(text: str) -> str | None:
    """``text`` without the clauses the user negates, or None when it has none (or
    nothing else): "I don't need them sorted, I just need each one in English" ->
    "I just need each one in English"."""
    kept: list[str] = []
    dropped = False
    for sentence in _SENTENCE.split(text.strip()):
        parts = [p for p in _CLAUSE_BREAK.split(sentence) if p.strip()]
        # The break keeps no separators; re-joining with ", " keeps the clauses readable.
        affirmed = [p.strip() for p in parts if not negated(p.strip())]
        dropped = dropped or len(affirmed) < len(parts)
        if affirmed:
            kept.append(", ".join(affirmed))
    if not dropped or not kept:
        return None
    return " ".join(kept)


def instruction_text(text: str) -> str | None:
    """The imperative part of ``text`` when it differs from the whole text, else None.

    None for questions and for texts that are one instruction from the first
    word: then the whole-text score already is the instruction's score. A
    request without imperative clauses but with negated ones gets its affirmed
    part (``affirmed_text``).
    """
    clauses = imperative_clauses(text)
    if not clauses:
        return affirmed_text(text)
    joined = " ".join(c.text for c in clauses)
    if _norm(joined) == _norm(text):
        return None
    return joined


def operation_terms(text: str) -> list[str]:
    """Stemmed verbs of the imperative clauses ("translate", "convert"); particles dropped."""
    return [stem(c.verb.split()[0]) for c in imperative_clauses(text)]


#: Verbs that say little about the work ("make it readable", "turn it into English"):
#: stemmed as ``operation_terms`` stems them.
_LIGHT_VERBS = frozenset(
    stem(w) for w in ("make", "turn", "get", "do", "give", "help", "put", "take", "let", "have")
)


def same_operation(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two requests may ask for the same kind of work, by their imperative verbs
    (``operation_terms``): they share one, or both are questions, or both use only
    light verbs ("turn it into English", "make it readable"), which name no operation.
    A request with a verb and a question, or two different verbs, are different work.

    Close pairs of agents share a topic and differ in the operation: "client
    sent over their NDA, anything I should worry about?" (review) against "The
    client sent us their NDA; let's send them our own" (drafting). The
    embedding puts such twins together, so an outcome learned on one would move
    the other to the wrong agent; a request repeated with other specifics keeps
    its verb ("Draw the sales forecast ..." / "Draw the demand forecast ...").
    """
    if a & b or (not a and not b):
        return True
    return bool(a and b) and not (a - _LIGHT_VERBS) and not (b - _LIGHT_VERBS)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


#: A negated clause names unwanted *work* only in these forms; "I don't understand why
#: it fails" or "it doesn't compile" states a problem, which is the work itself. The
#: match is the negation; what follows it is the work ("them sorted or prioritised").
_UNWANTED = re.compile(
    r"^(?:(?:i|we|you)\s+)?(?:don'?t|do\s+not|never)\s+(?:need|want|require|ask)\s+(?:for\s+)?"
    r"|^(?:don'?t|do\s+not|never)\s+(?:just\s+)?"
    r"(?!understand|know|get\b|see\b|worry|forget|remember)"
    r"|^no\s+need\s+(?:to|for)?\s*"
    r"|^not\s+(?=a|an|the|my|any|as|in|to)\b"
    r"|^(?:i'?m|i\s+am|we'?re|we\s+are)\s+not\s+"
    r"(?:asking\s+(?:you\s+)?(?:to\s+|for\s+)?|after\s+|looking\s+for\s+|interested\s+in\s+|"
    r"trying\s+to\s+)"
)
#: Work the request says is done already, or that the user will do: context, not the
#: ask ("I already have the playlist - now write a poem for the card").
_DONE = re.compile(
    r"\balready\b"
    r"|\b(?:is|are|was|were|went|looks?|seems?|am|'s|'re)\s+(?:all\s+)?(?:fine|done|sorted)\b"
    r"|\bi'?ll\b.*\bmyself\b"
)
#: A clause with these words states a problem ("the build already fails on main"): the
#: work itself, not work done.
_PROBLEM = re.compile(
    r"\b(?:fail\w*|broke\w*|crash\w*|errors?|bugs?|buggy|wrong|down|slow\w*|leak\w*|stuck|"
    r"hang\w*|not|never|no\s+longer)\b|n't\b"
)
#: Where a done clause may end, besides the clause breaks: a dash, "but".
_DONE_BREAK = re.compile(r"\s+[\u2014\u2013-]+\s+|\s+but\s+")


#: A fenced code block: its language, if named, and its body (to the end if unclosed).
_FENCE = re.compile(r"```([A-Za-z0-9_+#.-]*)[^\n]*\n.*?(?:```|$)", re.DOTALL)


def without_code(text: str) -> str:
    """``text`` with each fenced code block replaced by "(python code)": a pasted
    reducer's identifiers ("state", "action", "case 'add'") pulled "Jest tests for
    this reducer please:" to the meeting-notes agent; that it is code is what counts."""
    return _FENCE.sub(lambda m: f" ({m.group(1) or 'source'} code) ", text).strip()


def wanted_text(text: str) -> str:
    """``text`` without the work it says it does not want done, or has done already
    (see ``split_unwanted``) and with its code blocks named, not quoted
    (``without_code``): the text the router embeds as the whole request."""
    return split_unwanted(without_code(text))[0]


def split_unwanted(text: str) -> tuple[str, str | None]:
    """``text`` without the clauses that name work the user does not want done or has
    done already, and that work, or None: "I've got 30 tickets. I don't need them
    sorted or prioritised, I just need each one in English" -> ("I've got 30 tickets.
    I just need each one in English", "them sorted or prioritised").

    The words of such work pull an embedding of the whole text towards the agent
    that does it, as hard as the words of the work asked for.
    """
    found: list[str] = []
    kept: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        parts: list[str] = []
        for clause in _CLAUSE_BREAK.split(sentence):
            for part in _DONE_BREAK.split(clause):
                work = _unwanted_work(part.strip().replace("\u2019", "'"))
                if work:
                    found.append(work)
                elif part.strip():
                    parts.append(part.strip())
        if parts:
            kept.append(", ".join(parts))
    if not found:
        return text, None
    return " ".join(kept) or text, "; ".join(found)


def _unwanted_work(part: str) -> str:
    """The work ``part`` says is not wanted or done already, or ``""``."""
    lowered = part.lower()
    if _DONE.search(lowered) and not _PROBLEM.search(lowered):
        return part.strip(" .;:!")
    words = part.split()
    i = 0
    while i < len(words) and words[i].lower().strip(",;:") in _SKIP:
        i += 1
    rest = " ".join(words[i:])
    match = _UNWANTED.match(rest.lower())
    return rest[match.end() :].strip(" .;:!") if match else ""
