"""``CapabilityRouter``: picks the agent for a subtask by meaning, and says why.

A decision has three steps, and an optional fourth.

1. **Retrieve.** The subtask (without the work it says it does not want or
   has done already, ``instruction.wanted_text``) and the planner's capability
   phrase, when there is one, are embedded in one pass and summed
   (``w.capability`` weighs the phrase). The ``fetch`` nearest card documents
   come from the Chroma HNSW index (``CapabilityIndex``: every card is indexed
   as its whole text, each skill, each example and each not-skill). Agents are
   taken in the order of their best document, through the hard filters (alive,
   required tags, budget), until ``rerank`` have passed. When fewer than ``k`` pass, the
   search is repeated restricted to the agents that do.
2. **Rescore** the best ``rerank`` agents exactly, over *all* their documents:

   ``score = (1 - s) * (w.best * best + w.mean * mean_top)
   + s * (w.best * best_i + w.mean * mean_top_i) + w.lexical * lexical
   - w.not_skill * max(0, not_sim - best + w.not_margin)
   - w.cost * cost / (cost + cost_ref) - w.load * load
   + w.operation * claimed - w.disclaimed * disclaimed
   + w.success * tanh(evidence / w.success_scale)``

   ``best`` is the cosine similarity of the subtask to the agent's closest
   positive document (card, skill or example), ``mean_top`` the mean of its
   ``top_docs`` closest: one lucky phrase is worth less than a card that
   matches throughout. ``lexical`` is BM25 over the card's words divided by
   its upper bound (0..1): exact terms such as "SQL" or "pytest" matter where
   embeddings blur them. ``not_sim`` is the similarity to the agent's closest
   not-skill: an agent is penalised when the subtask matches what it says it
   does *not* do better than what it does. ``cost`` is USD per call from the
   card, ``load`` 0 (idle) to 1 (saturated) from the ``load`` source, ``rate``
   the smoothed success rate of the agent on similar past subtasks (shown,
   not scored). ``claimed`` and ``disclaimed`` (0..1,
   ``Lexicon.operation_parts``) say whether the card claims the subtask's
   operation, the verbs of its imperative clauses ("translate ..."), or
   disclaims it ("it does not translate"): the operation matters more than
   the topic nouns. ``best_i`` and ``mean_top_i`` are the same similarities
   for the subtask's instruction alone when context surrounds it
   (``instruction.instruction_text``: "Someone patched the crash; go over
   their patch" is a review), with share ``s = w.instruction``, else 0; the
   not-skill gap is the larger of the two views'.
   Not-skills include the negated sentences of the description
   (``card_text``). ``evidence`` is the signed, similarity- and age-weighted
   sum of past outcomes of the agent on near subtasks (``OutcomeMemory``;
   none: 0, neutral); an agent with positive evidence joins the shortlist even
   if retrieval missed it. The agent's documents include its learned ones
   (``OutcomeMemory.learned``: successes as examples, failures as not-skills,
   similarity times ``w.learned`` and the age decay).
3. **Decide and explain.** The highest score among the agents that passed the
   filters wins, unless it is under ``min_score``, or under the weak-match
   score without leading the runner-up by the weak margin (both calibrated per
   embedder, ``CALIBRATED_MIN_SCORE``, ``CALIBRATED_WEAK_MATCH``): then no agent
   fits and ``chosen`` is None.
   Every candidate (excluded ones too, with the reason) comes back with its
   score parts, and a ``route`` span with all of them is
   recorded when a tracer is set.
4. **Ask a model (optional).** With a ``chooser`` (``llm_choice.LLMChooser``),
   one short chat call picks among the top candidates with their cards in
   the prompt, or says none fits; cached, within a call budget, traced. Or
   ``likelihood.LikelihoodChooser`` re-ranks the top candidates by a small
   local model's likelihood of the subtask after each card.

The default weights (``ScoringWeights``) were set looking only at the "tune"
half of the labelled set in ``bench/data`` (34 agents with deliberately close
pairs, 247 planner-style subtasks) and checked once on the other half: with
MiniLM, top-1 0.90 on the tune half and 0.94 on the untouched half; 0.66 from
the subtask text alone, without the capability phrase; the hashing embedder
0.46. On the tune half, every combination of capability weight 1 or 1.5, mean
weight 0.5 or 1 and lexical weight 0.2 to 0.8 scored between 0.875 and 0.914,
so the defaults are not a sharp optimum. See ``bench/routing.py``. The
second stage (operation, prose negations, lexical weight 1.0, outcome
evidence) was set on the tune half routed from the text alone (0.64 -> 0.70)
and checked on the holdout half and on a second set written in users' style
(``bench/routing_sets.py``, ``bench/RESULTS.md``). The instruction view
(share 0.5, the best of 0.5/0.75/1.0 on that tune half) took the project set
from 0.733 to 0.745 and the users' set from 0.768 to 0.812 (hard items 0.571
to 0.661), both at the old minimum score.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weft.protocols import Candidate, CapabilityCard, RouteRequest, RoutingDecision
from weft.runtime.routing.capability_index import (
    DEFAULT_COLLECTION,
    CapabilityIndex,
    card_documents,
)
from weft.runtime.routing.chroma_store import HnswParams
from weft.runtime.routing.decision_trace import trace_decision
from weft.runtime.routing.embeddings.base import Embedder, normalise
from weft.runtime.routing.instruction import instruction_text, operation_terms, wanted_text
from weft.runtime.routing.lexicon import Lexicon, terms
from weft.runtime.routing.llm_choice import Chooser
from weft.runtime.routing.outcome_memory import CardVersions, OutcomeMemory, SuccessEstimate
from weft.runtime.routing.scoring import (
    CALIBRATED_MIN_SCORE,
    Scored,
    ScoringWeights,
    Views,
    no_fit_rule,
    similarity,
    with_learned,
)
from weft.runtime.routing.similarity_scale import ScaleKeeper
from weft.runtime.tracing.spans import Tracer

__all__ = ["CALIBRATED_MIN_SCORE", "CapabilityRouter", "ScoringWeights"]


# -- the router ------------------------------------------------------------------------------

LoadSource = Callable[[str], float] | Mapping[str, float]
AliveSource = Callable[[str], bool] | Collection[str]


class CapabilityRouter:
    """``Router`` over a ``CapabilityIndex``; see the module docstring for how it scores.

    Build it with ``CapabilityRouter.open(embedder, path=...)`` (or ``url=`` for
    a Chroma server; neither: in memory), or around an existing index.

    - ``alive``: the agents that may be chosen now, as a set or a predicate
      (the live registry's view); None means every indexed agent.
    - ``load``: current load per agent, 0..1, as a mapping or a callable;
      ``set_load`` updates the router's own mapping.
    - ``outcomes``: where ``record_outcome`` learns; None disables learning.
    - ``tracer``: receives a ``route`` span per decision. The orchestrator
      records its own route spans, so give the router a tracer when it is used
      on its own, not both.
    - ``chooser``: the optional last stage among the top candidates: ``LLMChooser``
      (a chat model reads their cards) or ``likelihood.LikelihoodChooser`` (a
      local small LM re-ranks them); None: embeddings decide.
    - ``fetch``: documents fetched per query; ``rerank``: agents rescored exactly
      (8 and 12 gave the same accuracy on the labelled set; each agent whose
      vectors are not in memory costs a little more of a Chroma read).

    ``route`` embeds off the event loop, then queries Chroma and scores in a
    worker thread. Decisions are safe to run concurrently; card updates are
    serialised by the index.
    """

    def __init__(
        self,
        index: CapabilityIndex,
        *,
        outcomes: OutcomeMemory | None = None,
        weights: ScoringWeights | None = None,
        alive: AliveSource | None = None,
        load: LoadSource | None = None,
        tracer: Tracer | None = None,
        fetch: int = 64,
        rerank: int = 8,
        query_cache: int = 512,
        chooser: Chooser | None = None,
    ) -> None:
        self.index = index
        self.embedder: Embedder = index.embedder
        self.outcomes = outcomes
        self.weights = weights or ScoringWeights()
        self.alive = alive
        self._loads: dict[str, float] = {}
        self.load: LoadSource = load if load is not None else self._loads
        self.tracer = tracer
        self.fetch = fetch
        self.rerank = rerank
        self.chooser = chooser
        if chooser is not None and chooser.tracer is None:
            chooser.tracer = tracer
        self._lexicon = Lexicon()
        for card in index:
            self._lexicon.put(card)
        self._query_cache: OrderedDict[tuple[str, str | None], Views] = OrderedDict()
        self._query_cache_size = query_cache
        self._scale = ScaleKeeper(self.embedder.model_id)

    @classmethod
    def open(
        cls,
        embedder: Embedder,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        hnsw: HnswParams | None = None,
        learn: bool = True,
        **options: Any,
    ) -> CapabilityRouter:
        """A router with its index (and, when ``learn``, its outcome memory) in one Chroma store."""
        index = CapabilityIndex(embedder, path=path, url=url, collection=collection, hnsw=hnsw)
        outcomes = None
        if learn:
            outcomes = OutcomeMemory(
                index.client,
                model_id=embedder.model_id,
                dimension=index.dimension,
                collection=(
                    f"{index.collection_name}-outcomes"
                    if index.collection_name != DEFAULT_COLLECTION
                    else "weft-route-outcomes"
                ),
                hnsw=hnsw,
            )
        return cls(index, outcomes=outcomes, **options)

    # -- cards ---------------------------------------------------------------------------

    async def upsert(self, card: CapabilityCard) -> None:
        """Add ``card`` or replace an older version of it; an equal or lower version is ignored."""
        if self.index.plan_upsert(card) == "ignored":
            return
        docs = card_documents(card)
        vectors = await self.embedder.aembed([d.text for d in docs])
        if await asyncio.to_thread(self.index.upsert, card, vectors) != "ignored":
            self._lexicon.put(card)

    async def upsert_many(self, cards: Iterable[CapabilityCard]) -> None:
        """Index many cards with one batched embedding (much faster than one by one)."""
        cards = list(cards)
        results = await asyncio.to_thread(self.index.upsert_many, cards)
        for card, result in zip(cards, results, strict=True):
            if result != "ignored":
                self._lexicon.put(self.index.cards[card.agent_id])

    def add_cards(self, cards: Iterable[CapabilityCard]) -> None:
        """Synchronous ``upsert_many`` for scripts and the CLI."""
        cards = list(cards)
        for card, result in zip(cards, self.index.upsert_many(cards), strict=True):
            if result != "ignored":
                self._lexicon.put(self.index.cards[card.agent_id])

    def reload(self) -> None:
        """Re-read the cards from Chroma, e.g. after another process changed them."""
        self.index.reload()
        lexicon = Lexicon()
        for card in self.index:
            lexicon.put(card)
        self._lexicon = lexicon

    async def remove(self, agent_id: str) -> None:
        await asyncio.to_thread(self.index.remove, agent_id)
        self._lexicon.drop(agent_id)
        self._loads.pop(agent_id, None)

    def set_load(self, agent_id: str, load: float) -> None:
        """Current load of an agent, 0 (idle) to 1 (saturated); used when ``load`` was not given."""
        self._loads[agent_id] = min(1.0, max(0.0, load))

    # -- learning ------------------------------------------------------------------------

    async def record_outcome(
        self, request: RouteRequest, agent_id: str, success: bool, *, source: str = "call"
    ) -> None:
        """Remember how ``agent_id`` did on ``request``; similar subtasks then route better.

        The outcome is filed against the agent's current card version (a new
        version starts afresh). ``source``: "call", "feedback", "critic"...
        """
        if self.outcomes is None:
            return
        vector = await self.query_vector(request)
        card = self.index.get(agent_id)
        await asyncio.to_thread(
            self.outcomes.record,
            vector,
            agent_id,
            success,
            request.text,
            version=None if card is None else card.version,
            source=source,
        )

    # -- deciding ------------------------------------------------------------------------

    async def query_vector(self, request: RouteRequest) -> NDArray[np.float32]:
        """The unit vector a request is searched with (cached for repeated subtasks)."""
        return (await self._views([request]))[0].vector

    async def _views(self, requests: list[RouteRequest]) -> list[Views]:
        """Each request's vectors (whole text + capability; instruction), one embedding batch."""
        found: dict[tuple[str, str | None], Views | None] = {}
        todo: list[tuple[RouteRequest, str | None]] = []
        for r in requests:
            key = (r.text, r.capability)
            cached = self._query_cache.get(key)
            if cached is not None:
                self._query_cache.move_to_end(key)
                found[key] = cached
            elif key not in found:
                found[key] = None
                todo.append((r, instruction_text(r.text) if self.weights.instruction else None))
        if todo:
            texts: list[str] = []
            for r, instruction in todo:
                texts.extend(t for t in (wanted_text(r.text), r.capability, instruction) if t)
            embedded = await self.embedder.aembed(texts)
            row = 0
            for r, instruction in todo:
                width = 1 if not r.capability else 2
                views = Views(self.combine_query(embedded[row : row + width]))
                row += width
                if instruction:  # with the capability phrase too, weighed as for the text
                    parts = [embedded[row]] + ([embedded[row - 1]] if r.capability else [])
                    views.instruction = self.combine_query(np.stack(parts))
                    row += 1
                found[(r.text, r.capability)] = self._remember_query((r.text, r.capability), views)
        return [found[(r.text, r.capability)] for r in requests]  # type: ignore[misc]

    async def route_many(self, requests: Iterable[RouteRequest]) -> list[RoutingDecision]:
        """Route several subtasks (a plan's, a ``--batch``), all embedded in one batch first;
        a chooser with ``refine_many`` (a scorer's batch path) refines them together."""
        requests = list(requests)
        views = await self._views(requests)
        many = getattr(self.chooser, "refine_many", None)
        decisions, wall, started = [], time.time(), time.perf_counter()
        for r, v in zip(requests, views, strict=True):
            mark = time.perf_counter()
            decision = await asyncio.to_thread(
                self.decide, r, v.vector, mark, instruction=v.instruction
            )
            decisions.append(decision if many else await self._refine(decision, mark))
        if many is not None and decisions:  # latency: the whole batch's, shared out
            decisions = await many(decisions, self.index.cards)
            each = (time.perf_counter() - started) / len(decisions)
            decisions = [d.model_copy(update={"latency_s": each}) for d in decisions]
        for decision in decisions:
            trace_decision(self.tracer, decision, wall)
        return decisions

    def _remember_query(self, key: tuple[str, str | None], views: Views) -> Views:
        self._query_cache[key] = views
        self._query_cache.move_to_end(key)
        while len(self._query_cache) > self._query_cache_size:
            self._query_cache.popitem(last=False)
        return views

    def combine_query(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Text vector plus ``weights.capability`` times the capability vector, normalised."""
        combined = (
            vectors[0] if len(vectors) == 1 else vectors[0] + self.weights.capability * vectors[1]
        )
        unit: NDArray[np.float32] = normalise(combined.reshape(1, -1))[0]
        return unit

    async def route(self, request: RouteRequest) -> RoutingDecision:
        started = time.perf_counter()
        wall = time.time()
        views = (await self._views([request]))[0]
        decision = await asyncio.to_thread(
            self.decide, request, views.vector, started, instruction=views.instruction
        )
        decision = await self._refine(decision, started)
        trace_decision(self.tracer, decision, wall)
        return decision

    async def _refine(self, decision: RoutingDecision, started: float) -> RoutingDecision:
        """The LLM stage, when a chooser is configured (see ``llm_choice``)."""
        if self.chooser is None:
            return decision
        refined = await self.chooser.refine(decision, self.index.cards)
        return refined.model_copy(update={"latency_s": time.perf_counter() - started})

    def decide(
        self,
        request: RouteRequest,
        vector: NDArray[np.float32],
        started: float | None = None,
        *,
        instruction: NDArray[np.float32] | None = None,
    ) -> RoutingDecision:
        """The decision for ``request`` given its query vector (synchronous; no tracing).

        ``instruction``: the vector of the request's imperative clauses when they
        are not the whole text (see ``instruction``); None scores the whole text only.
        """
        started = time.perf_counter() if started is None else started
        passing, failing = self._retrieve(request, vector)
        shortlist = passing[: max(self.rerank, request.k)] + failing
        operations = frozenset(operation_terms(request.text))
        success = self._estimates(vector, operations)
        # An agent that succeeded on a near-identical subtask is considered even if
        # its card is not among the nearest: that is how corrections take effect.
        shortlist += [a for a, e in success.items() if e.evidence > 0 and a not in shortlist]
        scored = self._score(request, vector, shortlist, success, operations, instruction)
        eligible = sorted((s for s in scored if s.excluded is None), key=lambda s: -s.score)
        chosen = eligible[0].card if eligible else None
        if eligible and not self.fits(eligible[0].score, [s.score for s in eligible[1:2]]):
            chosen = None  # the best of bad choices is no choice: "no agent fits"
        excluded = sorted((s for s in scored if s.excluded is not None), key=lambda s: -s.score)
        # The k best that may be chosen, then up to k that were filtered out, for the record.
        ranked = eligible[: request.k] + excluded[: request.k]
        return RoutingDecision(
            request=request,
            chosen=chosen,
            candidates=[
                Candidate(
                    agent_id=s.agent_id,
                    version=s.card.version,
                    score=round(s.score, 6),
                    similarity=round(s.best, 6),
                    lexical=round(s.lexical, 6),
                    cost=s.card.cost_per_call,
                    load=s.load,
                    success_rate=None if s.success is None else round(s.success.rate, 6),
                    excluded=s.excluded,
                    parts={k: round(v, 6) for k, v in s.parts.items()},
                    evidence=s.evidence,
                )
                for s in ranked
            ],
            embedding_model=self.embedder.model_id,
            latency_s=time.perf_counter() - started,
        )

    def _why_excluded(self, request: RouteRequest, card: CapabilityCard) -> str | None:
        if self.alive is not None:
            alive = (
                self.alive(card.agent_id) if callable(self.alive) else card.agent_id in self.alive
            )
            if not alive:
                return "not alive"
        if request.required_tags:
            missing = [t for t in request.required_tags if t not in card.tags]
            if missing:
                return f"missing tags: {', '.join(missing)}"
        if request.max_cost is not None and card.cost_per_call > request.max_cost:
            return f"cost {card.cost_per_call:g} over budget {request.max_cost:g}"
        return None

    def _retrieve(
        self, request: RouteRequest, vector: NDArray[np.float32]
    ) -> tuple[list[str], list[str]]:
        """Agents in order of their best document: those passing the filters, and the rest."""
        cards = self.index.cards
        want = max(self.rerank, request.k)
        ids, _ = self.index.nearest(vector, max(self.fetch, 8 * request.k))
        passing: list[str] = []
        failing: list[str] = []
        seen: set[str] = set()
        for doc_id in ids:
            agent, _, tail = doc_id.rpartition("#")
            if agent in seen or tail.startswith("not") or agent not in cards:
                continue
            seen.add(agent)
            if self._why_excluded(request, cards[agent]) is None:
                passing.append(agent)
                if len(passing) >= want:
                    break  # enough to rescore; the rest cannot be ranked higher by HNSW
            elif len(failing) < request.k:
                failing.append(agent)
        if len(passing) >= request.k or len(seen) >= len(cards):
            return passing, failing
        # Too few of the nearest agents pass the filters: search among those that do.
        rest = [  # a snapshot: cards may change in another thread meanwhile
            a
            for a, c in list(cards.items())
            if a not in seen and self._why_excluded(request, c) is None
        ]
        if rest:
            more, _ = self.index.nearest(vector, 8 * want, agent_ids=rest[:5000])
            for doc_id in more:
                agent, _, tail = doc_id.rpartition("#")
                if agent not in seen and not tail.startswith("not") and agent in cards:
                    seen.add(agent)
                    passing.append(agent)
        return passing, failing

    @property
    def min_score(self) -> float:
        """The score under which no agent fits (see ``ScoringWeights.min_score``)."""
        return self._no_fit_rule()[0]

    @property
    def weak_match(self) -> tuple[float, float]:
        """``(weak_score, weak_margin)`` (see ``ScoringWeights.weak_score``)."""
        return self._no_fit_rule()[1:]

    def _no_fit_rule(self) -> tuple[float, float, float]:
        self._scale.current(self.index)  # a model other than MiniLM: measured by now
        return no_fit_rule(self.weights, self.embedder.model_id, rescaled=self._scale.measured)

    def fits(self, best: float, runners_up: list[float]) -> bool:
        """Whether ``best`` is a choice: over the minimum and, if weak, ahead of the runner-up."""
        floor, weak, margin = self._no_fit_rule()
        return best >= floor and not (best < weak and runners_up and best - runners_up[0] < margin)

    def _estimates(
        self, vector: NDArray[np.float32], operations: frozenset[str]
    ) -> dict[str, SuccessEstimate]:
        if self.outcomes is None or not len(self.outcomes):
            return {}
        cards = self.index.cards
        scale = self._scale.current(self.index)
        found = self.outcomes.estimates(
            vector,
            CardVersions(cards),
            floor=scale.to_raw(self.outcomes.min_similarity),
            operations=operations,
            call_floor=scale.to_raw(self.outcomes.call_similarity),
        )
        return {a: e for a, e in found.items() if a in cards}

    def _score(
        self,
        request: RouteRequest,
        vector: NDArray[np.float32],
        agents: list[str],
        success: Mapping[str, SuccessEstimate],
        operations: frozenset[str],
        instruction: NDArray[np.float32] | None = None,
    ) -> list[Scored]:
        w = self.weights
        cards = self.index.cards
        vectors = self.index.agent_vectors(agents)
        if self.outcomes is not None and w.learned and len(self.outcomes):
            learned = self.outcomes.learned(agents, CardVersions(cards), operations)
            vectors = with_learned(vectors, learned, w.learned)
        agents = [a for a in agents if a in vectors and a in cards]
        if not agents:
            return []
        # One product for every document of every shortlisted agent (and view).
        blocks = [vectors[a] for a in agents]
        stacked = np.concatenate([b.vectors for b in blocks])
        scale = self._scale.current(self.index)
        sims_all = scale.scores(stacked, vector)
        share = w.instruction if instruction is not None else 0.0
        instr_all = scale.scores(stacked, instruction) if instruction is not None else sims_all
        query_terms = terms(request.text)
        if request.capability:
            query_terms += terms(request.capability) * 2
        lexical = self._lexicon.scores(query_terms, agents)
        out: list[Scored] = []
        start = 0
        for agent, block in zip(agents, blocks, strict=True):
            card = cards[agent]
            end = start + len(block.kinds)
            best, best_i, mean_top, not_gap, not_i = similarity(sims_all[start:end], block.kinds, w)
            if share:
                i_best, _, i_mean, i_gap, i_not = similarity(instr_all[start:end], block.kinds, w)
                instruction_part = share * ((i_best + i_mean) - (best + mean_top))
                if i_gap > not_gap:
                    not_gap, not_i = i_gap, i_not
            else:
                instruction_part = 0.0
            start = end
            load = self._load_of(agent)
            claimed, disclaimed = self._lexicon.operation_parts(operations, agent)
            estimate = success.get(agent)
            signed = estimate.evidence if estimate is not None else 0.0
            parts = {
                "best": w.best * best,
                "mean": w.mean * mean_top,
                "lexical": w.lexical * lexical.get(agent, 0.0),
                "instruction": instruction_part,
                "not_skill": -w.not_skill * not_gap,
                "cost": -w.cost * card.cost_per_call / (card.cost_per_call + w.cost_ref),
                "load": -w.load * load,
                "operation": w.operation * claimed - w.disclaimed * disclaimed,
                "success": w.success * math.tanh(signed / w.success_scale),
            }
            evidence = f"{block.kinds[best_i]}: {block.texts[best_i]}"
            if parts["not_skill"] < 0:
                evidence += f" | not: {block.texts[not_i]}"
            out.append(
                Scored(
                    agent_id=agent,
                    card=card,
                    score=sum(parts.values()),
                    best=best,
                    lexical=lexical.get(agent, 0.0),
                    load=load,
                    success=estimate,
                    parts=parts,
                    evidence=evidence,
                    excluded=self._why_excluded(request, card),
                )
            )
        return out

    def _load_of(self, agent: str) -> float:
        source = self.load
        value = source(agent) if callable(source) else source.get(agent, 0.0)
        return min(1.0, max(0.0, float(value)))

    def close(self) -> None:
        """Release an in-memory index (persistent stores keep their data)."""
        self.index.close()
