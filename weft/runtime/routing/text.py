"""Words as every lexical scorer sees them: stop words to drop, and one stemmer.

The capability router's lexical score, the keyword router and the rule
planner all drop ``STOPWORDS`` and reduce words with ``stem`` before
comparing them; one list and one stemmer keep their notion of "the same
word" the same.
"""

from __future__ import annotations

STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "based",
        "be",
        "been",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "each",
        "for",
        "from",
        "get",
        "give",
        "given",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "make",
        "makes",
        "me",
        "more",
        "most",
        "my",
        "new",
        "of",
        "on",
        "only",
        "or",
        "our",
        "out",
        "over",
        "per",
        "please",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "these",
        "they",
        "this",
        "those",
        "to",
        "under",
        "up",
        "use",
        "using",
        "very",
        "via",
        "we",
        "what",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)

#: First match wins: a longer ending comes before its own tail (``-ations`` before ``-s``).
_SUFFIXES = (
    "ational", "ations", "ation", "ments", "ment", "ings", "ing", "ities", "ity", "ness",
    "ists", "ist", "ers", "er", "ies", "ied", "ed", "es", "ly", "al", "s", "e",
)  # fmt: skip


def stem(word: str) -> str:
    """``word`` without one common English suffix, keeping at least three letters.

    Light on purpose: ``writer``/``writing``/``writes`` meet at ``writ``, and
    nothing is looked up, so it is deterministic and costs a few string
    comparisons. It is not a Porter stemmer: ``analysis`` and ``analyst``
    stay apart (the keyword router adds a shared-prefix rule for that).
    """
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
