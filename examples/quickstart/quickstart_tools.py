"""The tools of the quickstart workflow: read a folder of texts, analyse them, write a report.

Each function is a ``@weft.tool``: its JSON Schema comes from the type hints,
its arguments are validated before it runs, and its pydantic return value is
passed on to the next node as plain JSON. Nothing here knows about the graph;
``workflow.yaml`` and ``workflow.py`` wire the same tools together.

Relative paths given to ``list_documents`` and ``write_report`` are taken
relative to this folder, like paths inside a workflow file, so the example
behaves the same whatever folder it is run from.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, Field

import weft

HERE = Path(__file__).resolve().parent

#: Adult silent reading speed used for reading time, in words per minute.
WORDS_PER_MINUTE = 200

_APOSTROPHES = "'\u2019"
_WORD_RE = re.compile(rf"[A-Za-z0-9]+(?:[{_APOSTROPHES}-][A-Za-z0-9]+)*")
_SENTENCE_END_RE = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)")
_PARAGRAPH_BREAK_RE = re.compile(r"\n\s*\n")
_VOWEL_GROUP_RE = re.compile(r"[aeiouy]+")
_SOUNDED_ES = ("ses", "xes", "zes", "ches", "shes", "ces", "ges", "ies")
_NOT_PLURAL = frozenset({"lens", "news", "series", "species", "gas", "canvas", "always"})

_STOPWORD_TEXT = """
    a about above after again against all almost also although always am among an and
    another any are around as at away back be became because become becomes been before
    being below between both but by can cannot could did do does doing done down during each
    either else enough even ever every few first for from further get gets got had has have
    having he her here hers herself him himself his how however i if in into is it its
    itself just least less let like made make makes many may me might more most much must my
    myself near never new next no nor not now of off often on once one only onto or other
    others otherwise our ours ourselves out over own per quite rather really same she should
    since so some still such than that the their theirs them themselves then there therefore
    these they this those though through thus to too toward towards two under until up upon
    us very via was we well were what whatever when where whereas whether which while who
    whom whose why will with within without would yet you your yours yourself yourselves
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class Document(BaseModel):
    """A text document read from disk."""

    name: str = Field(description="File name, e.g. 'tides.txt'.")
    text: str = Field(description="The whole text, UTF-8 decoded.")


class TextStats(BaseModel):
    """Counts of one document."""

    document: str = Field(description="The document's name.")
    words: int = Field(description="Words (runs of letters and digits; 'don't' is one word).")
    sentences: int = Field(description="Sentences (ended by . ! or ?, or by the end of the text).")
    paragraphs: int = Field(description="Blocks of text separated by blank lines.")
    characters: int = Field(description="Letters and digits in words.")
    avg_sentence_length: float = Field(description="Words per sentence.")
    avg_word_length: float = Field(description="Characters per word.")
    reading_time_minutes: float = Field(description=f"At {WORDS_PER_MINUTE} words per minute.")


class Readability(BaseModel):
    """Flesch scores of one document, from a syllable-counting heuristic."""

    document: str = Field(description="The document's name.")
    syllables: int = Field(description="Estimated syllables in the whole text.")
    syllables_per_word: float = Field(description="Estimated syllables per word.")
    flesch_reading_ease: float = Field(description="0-100 and beyond; higher is easier.")
    flesch_kincaid_grade: float = Field(description="US school grade needed to follow the text.")
    level: str = Field(description="The usual label of the reading-ease band.")


class Vocabulary(BaseModel):
    """Term statistics of the whole corpus, for tf-idf and the corpus summary."""

    documents: int = Field(description="Number of documents.")
    document_frequency: dict[str, int] = Field(description="Term -> documents containing it.")
    term_counts: dict[str, int] = Field(description="Term -> occurrences in the whole corpus.")


class Keyword(BaseModel):
    """A term that characterises a document."""

    term: str = Field(description="The term, lower case.")
    count: int = Field(description="Occurrences in the document.")
    score: float = Field(
        description="tf-idf: frequency in the document times rarity in the corpus."
    )


class DocumentKeywords(BaseModel):
    """The top keywords of one document."""

    document: str = Field(description="The document's name.")
    keywords: list[Keyword] = Field(description="Best first.")


class ReportSummary(BaseModel):
    """What ``write_report`` wrote."""

    path: str = Field(description="Absolute path of the Markdown report.")
    documents: int = Field(description="Documents analysed.")
    words: int = Field(description="Words in the whole corpus.")
    top_keywords: list[str] = Field(description="The corpus' most frequent content words.")


# -- text helpers (plain functions, so tests and other tools can reuse them) ------------


def words_of(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def count_sentences(text: str) -> int:
    """Sentence ends, plus a trailing sentence without final punctuation."""
    ends = list(_SENTENCE_END_RE.finditer(text))
    tail = text[ends[-1].end() :] if ends else text
    return len(ends) + (1 if words_of(tail) else 0)


def count_paragraphs(text: str) -> int:
    return sum(1 for block in _PARAGRAPH_BREAK_RE.split(text) if words_of(block))


def count_syllables(word: str) -> int:
    """Estimate the syllables of an English word from its vowel groups.

    Vowel groups (``y`` counts as a vowel) minus the usual silent endings: a
    final ``e`` ("stone", but not "table" or "tree"), ``-ed`` not after t/d
    ("jumped", but not "wanted") and ``-es`` not after a sibilant ("makes", but
    not "boxes"). Right for most everyday words, as Flesch scores need.
    A number counts as one syllable, which is rough but rare in prose.
    """
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 1 if any(ch.isdigit() for ch in word) else 0
    groups = len(_VOWEL_GROUP_RE.findall(w))
    silent = (
        (w.endswith("e") and not w.endswith(("le", "ee", "ye", "ie")))
        or (w.endswith("ed") and w[-3] not in "tdaeiouy")
        or (w.endswith("es") and not w.endswith(_SOUNDED_ES))
    )
    if silent and groups > 1:
        groups -= 1
    return max(1, groups)


def singular(term: str) -> str:
    """Fold a regular English plural ("tides", "colonies") onto its singular.

    Only the regular endings, and not words that merely end in s ("glass",
    "bus", "analysis", "lens"), so that "tide" and "tides" count as one keyword.
    """
    if (
        len(term) <= 3
        or not term.endswith("s")
        or term.endswith(("ss", "us", "is", "ics"))
        or term in _NOT_PLURAL
    ):
        return term
    if term.endswith("ies") and len(term) > 4:
        return term[:-3] + "y"
    return term[:-1]


def terms_of(text: str) -> list[str]:
    """Content words, plurals folded: lower-cased words of 3+ letters, no stopwords or numbers."""
    terms = []
    for word in words_of(text):
        term = word.lower().replace("\u2019", "'")
        if term.endswith("'s"):
            term = term[:-2]
        term = singular(term)
        if len(term) >= 3 and term.isascii() and not term.isdigit() and term not in STOPWORDS:
            terms.append(term)
    return terms


def _resolve(path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else HERE / candidate


# -- the tools ------------------------------------------------------------------------------


@weft.tool(blocking=True)
def list_documents(folder: str = "docs", pattern: str = "*.txt") -> list[str]:
    """List the text documents in a folder, sorted by name.

    A relative folder is taken relative to the quickstart folder. Raises when
    the folder is missing or holds no matching file, so the run stops at once.
    """
    root = _resolve(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    paths = sorted(p for p in root.glob(pattern) if p.is_file())
    if not paths:
        raise FileNotFoundError(f"no files matching {pattern!r} in {root}")
    return [str(p) for p in paths]


@weft.tool(blocking=True)
def read_document(path: str) -> Document:
    """Read one UTF-8 text file."""
    file = Path(path)
    return Document(name=file.name, text=file.read_text(encoding="utf-8"))


@weft.tool
def text_statistics(document: Document) -> TextStats:
    """Words, sentences, paragraphs, average sentence length and reading time."""
    words = words_of(document.text)
    sentences = max(1, count_sentences(document.text))
    characters = sum(len(re.sub(r"[^A-Za-z0-9]", "", w)) for w in words)
    return TextStats(
        document=document.name,
        words=len(words),
        sentences=sentences,
        paragraphs=count_paragraphs(document.text),
        characters=characters,
        avg_sentence_length=round(len(words) / sentences, 2),
        avg_word_length=round(characters / max(1, len(words)), 2),
        reading_time_minutes=round(len(words) / WORDS_PER_MINUTE, 2),
    )


def _reading_level(ease: float) -> str:
    bands = [
        (90, "very easy"),
        (80, "easy"),
        (70, "fairly easy"),
        (60, "standard"),
        (50, "fairly difficult"),
        (30, "difficult"),
    ]
    return next((label for floor, label in bands if ease >= floor), "very difficult")


@weft.tool
def readability(document: Document) -> Readability:
    """Flesch reading ease and Flesch-Kincaid grade, with a syllable heuristic."""
    words = words_of(document.text)
    n_words = max(1, len(words))
    sentences = max(1, count_sentences(document.text))
    syllables = sum(count_syllables(w) for w in words)
    words_per_sentence = n_words / sentences
    syllables_per_word = syllables / n_words
    ease = 206.835 - 1.015 * words_per_sentence - 84.6 * syllables_per_word
    grade = 0.39 * words_per_sentence + 11.8 * syllables_per_word - 15.59
    return Readability(
        document=document.name,
        syllables=syllables,
        syllables_per_word=round(syllables_per_word, 3),
        flesch_reading_ease=round(ease, 1),
        flesch_kincaid_grade=round(grade, 1),
        level=_reading_level(ease),
    )


@weft.tool
def build_vocabulary(documents: list[Document]) -> Vocabulary:
    """Document frequency and total count of every content word in the corpus."""
    document_frequency: Counter[str] = Counter()
    term_counts: Counter[str] = Counter()
    for document in documents:
        terms = terms_of(document.text)
        term_counts.update(terms)
        document_frequency.update(set(terms))
    return Vocabulary(
        documents=len(documents),
        document_frequency=dict(sorted(document_frequency.items())),
        term_counts=dict(sorted(term_counts.items())),
    )


@weft.tool
def keywords(document: Document, vocabulary: Vocabulary, top: int = 8) -> DocumentKeywords:
    """The document's top terms by tf-idf against the corpus.

    tf is the term's share of the document's content words; idf is the
    smoothed ``ln((1 + N) / (1 + df)) + 1``, so a term found in every document
    still counts a little. Ties break alphabetically, to keep reports stable.
    """
    counts = Counter(terms_of(document.text))
    total = max(1, sum(counts.values()))
    n = vocabulary.documents
    scored = []
    for term, count in counts.items():
        df = vocabulary.document_frequency.get(term, 1)
        idf = math.log((1 + n) / (1 + df)) + 1
        scored.append(Keyword(term=term, count=count, score=round(count / total * idf, 4)))
    scored.sort(key=lambda k: (-k.score, k.term))
    return DocumentKeywords(document=document.name, keywords=scored[:top])


def _minutes(value: float) -> str:
    seconds = round(value * 60)
    return f"{seconds // 60} min {seconds % 60:02d} s"


def render_report(
    stats: list[TextStats],
    readability: list[Readability],
    keywords: list[DocumentKeywords],
    vocabulary: Vocabulary,
    top: int = 10,
) -> str:
    """The Markdown report; a pure function of the analyses, so two runs give the same text."""
    by_name_ease = {r.document: r for r in readability}
    by_name_keys = {k.document: k for k in keywords}
    docs = sorted(stats, key=lambda s: s.document)
    words = sum(s.words for s in docs)
    sentences = sum(s.sentences for s in docs)
    paragraphs = sum(s.paragraphs for s in docs)
    easiest = max(readability, key=lambda r: (r.flesch_reading_ease, r.document))
    hardest = min(readability, key=lambda r: (r.flesch_reading_ease, r.document))
    mean_ease = sum(r.flesch_reading_ease for r in readability) / len(readability)
    common = sorted(vocabulary.term_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]

    out = [f"# Corpus report: {len(docs)} documents", ""]
    out += ["## Corpus summary", "", "| Measure | Value |", "| --- | ---: |"]
    out += [
        f"| Documents | {len(docs)} |",
        f"| Words | {words} |",
        f"| Sentences | {sentences} |",
        f"| Paragraphs | {paragraphs} |",
        f"| Distinct content words | {len(vocabulary.term_counts)} |",
        f"| Average sentence length | {words / max(1, sentences):.1f} words |",
        f"| Total reading time | {_minutes(words / WORDS_PER_MINUTE)} |",
        f"| Mean Flesch reading ease | {mean_ease:.1f} |",
        f"| Easiest to read | {easiest.document} ({easiest.flesch_reading_ease:.1f}) |",
        f"| Hardest to read | {hardest.document} ({hardest.flesch_reading_ease:.1f}) |",
        "",
    ]
    out += ["## Top keywords of the corpus", "", "| # | Keyword | Occurrences | Documents |"]
    out += ["| ---: | --- | ---: | ---: |"]
    for rank, (term, count) in enumerate(common, start=1):
        out.append(f"| {rank} | {term} | {count} | {vocabulary.document_frequency[term]} |")
    out += ["", "## Documents at a glance", ""]
    out += ["| Document | Words | Sentences | Reading ease | Grade | Keywords |"]
    out += ["| --- | ---: | ---: | ---: | ---: | --- |"]
    for s in docs:
        r = by_name_ease[s.document]
        terms = ", ".join(k.term for k in by_name_keys[s.document].keywords[:3])
        out.append(
            f"| {s.document} | {s.words} | {s.sentences} | {r.flesch_reading_ease:.1f} "
            f"| {r.flesch_kincaid_grade:.1f} | {terms} |"
        )
    for s in docs:
        r = by_name_ease[s.document]
        k = by_name_keys[s.document]
        out += ["", f"## {s.document}", "", "| Measure | Value |", "| --- | ---: |"]
        out += [
            f"| Words | {s.words} |",
            f"| Sentences | {s.sentences} |",
            f"| Paragraphs | {s.paragraphs} |",
            f"| Average sentence length | {s.avg_sentence_length:.1f} words |",
            f"| Average word length | {s.avg_word_length:.2f} characters |",
            f"| Reading time | {_minutes(s.reading_time_minutes)} |",
            f"| Syllables per word | {r.syllables_per_word:.2f} |",
            f"| Flesch reading ease | {r.flesch_reading_ease:.1f} ({r.level}) |",
            f"| Flesch-Kincaid grade | {r.flesch_kincaid_grade:.1f} |",
            "",
            "Keywords (tf-idf): " + ", ".join(f"{kw.term} ({kw.score:.3f})" for kw in k.keywords),
        ]
    return "\n".join(out) + "\n"


@weft.tool(blocking=True)
def write_report(
    stats: list[TextStats],
    readability: list[Readability],
    keywords: list[DocumentKeywords],
    vocabulary: Vocabulary,
    path: str = "report.md",
) -> ReportSummary:
    """Join the per-document analyses into one Markdown report and write it to ``path``.

    A relative path is taken relative to the quickstart folder; missing parent
    folders are created.
    """
    target = _resolve(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(stats, readability, keywords, vocabulary), encoding="utf-8")
    common = sorted(vocabulary.term_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return ReportSummary(
        path=str(target),
        documents=len(stats),
        words=sum(s.words for s in stats),
        top_keywords=[term for term, _ in common],
    )
