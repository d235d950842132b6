"""A keyword router: the fallback when no embedding router is configured.

It implements the ``Router`` protocol over capability cards with word
overlap only, so it needs no model and no index, and it is deterministic.
Words are lower-cased, stop words dropped, and light suffix stripping plus a
shared-prefix rule make ``write``/``writer``/``writing`` or
``analysis``/``analyst`` meet. The score of a card is the weighted share of
the request's words it covers (the planner's capability phrase counts double),
with a bonus when the capability names the agent itself. A card whose
``not_skills`` are fully named by the request is excluded, as the embedding
router does. Past outcomes (``record_outcome``) adjust scores slightly.

It is good at "which of my five agents does statistics"; it is not semantic:
"summarise" will not find a card that only says "condense".
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from weft.protocols import Candidate, CapabilityCard, RouteRequest, RoutingDecision
from weft.runtime.routing.text import STOPWORDS, stem

_WORD = re.compile(r"[a-z0-9]+")
_STOP = (STOPWORDS | {"one", "two"}) - {"write", "based", "been", "given", "new"}


def keywords(text: str) -> list[str]:
    """Stemmed content words of ``text``, in order, duplicates kept."""
    return [stem(w) for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP]


def _match(a: str, b: str) -> bool:
    if a == b:
        return True
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n >= 4 and n >= 0.6 * min(len(a), len(b))


def _covers(words: Iterable[str], vocabulary: set[str]) -> list[bool]:
    return [any(_match(w, v) for v in vocabulary) for w in words]


class LexicalRouter:
    """``Router`` by keyword overlap; see the module docstring.

    ``fallback`` names an agent to choose when nothing matches at all; without
    it, a sole registered agent is chosen, and otherwise none.
    """

    def __init__(
        self, cards: Iterable[CapabilityCard] = (), *, fallback: str | None = None
    ) -> None:
        self.fallback = fallback
        self._cards: dict[str, CapabilityCard] = {}
        self._vocab: dict[str, set[str]] = {}
        self._names: dict[str, set[str]] = {}
        self._outcomes: dict[str, tuple[int, int]] = {}
        for card in cards:
            self._put(card)

    def _put(self, card: CapabilityCard) -> None:
        self._cards[card.agent_id] = card
        text = " ".join([card.agent_id, card.description, *card.skills, *card.examples])
        self._vocab[card.agent_id] = set(keywords(text))
        self._names[card.agent_id] = set(keywords(card.agent_id))

    async def upsert(self, card: CapabilityCard) -> None:
        current = self._cards.get(card.agent_id)
        if current is None or card.version >= current.version:
            self._put(card)

    async def remove(self, agent_id: str) -> None:
        self._cards.pop(agent_id, None)
        self._vocab.pop(agent_id, None)
        self._names.pop(agent_id, None)

    async def record_outcome(self, request: RouteRequest, agent_id: str, success: bool) -> None:
        good, total = self._outcomes.get(agent_id, (0, 0))
        self._outcomes[agent_id] = (good + int(success), total + 1)

    def cards(self) -> list[CapabilityCard]:
        return list(self._cards.values())

    async def route(self, request: RouteRequest) -> RoutingDecision:
        started = time.perf_counter()
        capability = keywords(request.capability or "")
        text = keywords(request.text)
        weights = [2.0] * len(capability) + [1.0] * len(text)
        total = sum(weights) or 1.0
        query = set(capability) | set(text)
        candidates: list[Candidate] = []
        for agent_id, card in self._cards.items():
            covered = _covers([*capability, *text], self._vocab[agent_id])
            lexical = sum(w for w, hit in zip(weights, covered, strict=True) if hit) / total
            named = bool(capability) and all(_covers(capability, self._names[agent_id]))
            score = lexical + (0.25 if named else 0.0)
            good, seen = self._outcomes.get(agent_id, (0, 0))
            rate = good / seen if seen else None
            if rate is not None:
                score += 0.1 * (rate - 0.5)
            candidates.append(
                Candidate(
                    agent_id=agent_id,
                    version=card.version,
                    score=round(score, 6),
                    lexical=round(lexical, 6),
                    cost=card.cost_per_call,
                    success_rate=rate,
                    excluded=self._excluded(card, request, query),
                )
            )
        candidates.sort(key=lambda c: (c.excluded is not None, -c.score))
        eligible = [c for c in candidates if c.excluded is None]
        chosen: CapabilityCard | None = None
        if eligible and eligible[0].lexical > 0:
            chosen = self._cards[eligible[0].agent_id]
        elif self.fallback is not None and any(c.agent_id == self.fallback for c in eligible):
            chosen = self._cards[self.fallback]
        elif len(eligible) == 1:
            chosen = self._cards[eligible[0].agent_id]
        return RoutingDecision(
            request=request,
            chosen=chosen,
            candidates=candidates,
            embedding_model=None,
            latency_s=time.perf_counter() - started,
        )

    def _excluded(self, card: CapabilityCard, request: RouteRequest, query: set[str]) -> str | None:
        missing = [t for t in request.required_tags if t not in card.tags]
        if missing:
            return f"lacks tag(s): {', '.join(missing)}"
        if request.max_cost is not None and card.cost_per_call > request.max_cost:
            return f"costs {card.cost_per_call} per call, over {request.max_cost}"
        for phrase in card.not_skills:
            words = keywords(phrase)
            if words and all(_covers(words, query)):
                return f"does not do: {phrase}"
        return None
