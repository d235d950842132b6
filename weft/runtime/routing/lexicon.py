"""BM25 over what agents' cards say they do, and the words they say they do not do.

Split from the router so that the scoring module stays small. The positive
text of a card is its id, its description without negated sentences (see
``card_text``), its skills and examples; the negative terms come from
``not_skills`` and the description's negations. Both are stemmed with the
shared ``terms`` so that "translate", "translation" and "translator" meet.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from weft.protocols import CapabilityCard
from weft.runtime.routing.card_text import card_not_skills, positive_text
from weft.runtime.routing.text import STOPWORDS, stem

_WORD = re.compile(r"[a-z0-9][a-z0-9+#.]*[a-z0-9+#]|[a-z0-9]")


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed content words of ``text`` (the lexical scorer's vocabulary)."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class Lexicon:
    """BM25 statistics over the agents' positive texts, updated as cards come and go."""

    k1 = 1.2
    b = 0.75

    def __init__(self) -> None:
        self.tf: dict[str, Counter[str]] = {}
        self.negative: dict[str, frozenset[str]] = {}
        self.length: dict[str, int] = {}
        self.df: Counter[str] = Counter()
        self.total_length = 0

    @staticmethod
    def text_of(card: CapabilityCard) -> str:
        """The words that count *for* an agent."""
        name = card.agent_id.replace("_", " ").replace("-", " ")
        return " ".join([name, positive_text(card.description), *card.skills, *card.examples])

    def put(self, card: CapabilityCard) -> None:
        self.drop(card.agent_id)
        counts = Counter(terms(self.text_of(card)))
        self.tf[card.agent_id] = counts
        self.negative[card.agent_id] = frozenset(terms(" ".join(card_not_skills(card))))
        self.length[card.agent_id] = sum(counts.values())
        self.total_length += self.length[card.agent_id]
        self.df.update(counts.keys())

    def drop(self, agent_id: str) -> None:
        counts = self.tf.pop(agent_id, None)
        self.negative.pop(agent_id, None)
        if counts is None:
            return
        self.total_length -= self.length.pop(agent_id)
        self.df.subtract(counts.keys())

    def idf(self, term: str) -> float:
        n = max(1, len(self.tf))
        df = self.df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def operation(self, ops: Iterable[str], agent: str) -> float:
        """-1..1: how strongly the agent's card claims (or disclaims) the subtask's operations.

        ``claimed - disclaimed`` of ``operation_parts``.
        """
        claimed, disclaimed = self.operation_parts(ops, agent)
        return max(-1.0, min(1.0, claimed - disclaimed))

    def operation_parts(self, ops: Iterable[str], agent: str) -> tuple[float, float]:
        """(claimed, disclaimed), each 0..1: the share of the subtask's operations the card
        says it does, and the share it says it does *not* do ("does not translate").

        Each operation counts by its rarity among the cards (a verb every card
        uses, like "write", says little), relative to the rarest possible term.
        """
        ops = list(dict.fromkeys(ops))
        if not ops:
            return 0.0, 0.0
        top = self.idf("\0never-seen")
        counts = self.tf.get(agent, Counter())
        negative = self.negative.get(agent, frozenset())
        claimed = disclaimed = 0.0
        for op in ops:
            weight = self.idf(op) / top
            if op in negative:
                disclaimed += weight
            elif counts.get(op, 0):
                claimed += weight
        return min(1.0, claimed / len(ops)), min(1.0, disclaimed / len(ops))

    def scores(self, query: Iterable[str], agents: Iterable[str]) -> dict[str, float]:
        """BM25 of each agent divided by its upper bound for this query, in 0..1."""
        n = max(1, len(self.tf))
        average = max(1.0, self.total_length / n)
        idf = {t: self.idf(t) for t in set(query)}
        bound = sum(idf.values()) or 1.0
        out: dict[str, float] = {}
        for agent in agents:
            counts = self.tf.get(agent)
            if counts is None:
                out[agent] = 0.0
                continue
            norm = self.k1 * (1 - self.b + self.b * self.length[agent] / average)
            total = 0.0
            for t, weight in idf.items():
                tf = counts.get(t, 0)
                if tf:
                    total += weight * tf / (tf + norm)
            out[agent] = total / bound
        return out
