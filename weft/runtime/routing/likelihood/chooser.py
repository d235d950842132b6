"""The optional last routing stage: re-rank the top candidates by a small LM's likelihood.

The router's right agent is among its top 5 far more often than it is first
(issue 15). This stage re-scores those top candidates by how likely
SmolLM2-135M-Instruct finds the subtask *after* each card's description (a
"noisy channel" score)::

    likelihood(card) = sum log P(subtask tokens | card_prompt(card)) / n subtask tokens
    final(card)      = router score + weight * likelihood(card)

The subtask is the same for every card, so no unconditional baseline is
needed. It is scored as the router embeds it (``instruction.wanted_text``:
without the work it says it does not want or has done, code blocks named):
"I don't need it translated" made the translator's card likely. On the
project's two labelled sets (``bench/routing_channel.py``, weight 0.75, top 5)
top-1 rises from 0.749 to 0.862 (cards with examples, quoted in the prompt)
and from 0.812 to 0.839 (cards without).

It runs locally in numpy (``llama_numpy``), no torch and no network. Cost:
about 0.2 s to load (0.6 GB of float32 weights memory-mapped from the cache
``smollm.load_smollm2`` writes on the first load, which takes about 7 s),
then per subtask one forward pass of the subtask's tokens for the candidates
together (about 0.3 s on one core); each card's prompt is run once and its
keys/values kept (per card id, version and prompt text, LRU), the prompts a
decision lacks run together as one batch (about 0.9 s for five). All model
work runs on the thread MiniLM's passes run on (``model_thread``), never on the
event loop; answers are cached per (subtask, the candidates' prompts).

The router's own "no agent fits" rests on embedding scores only (under the
calibrated minimum, or a weak match level with its runner-up), and requests
written as chat ("buyer says the vase arrived broken, wants money back")
score low on every card, the right one too. Such a refusal is overruled only
when the stage finds strong evidence: the re-ranked best card raises the
subtask's likelihood over a card-less prompt by at least ``rescue_gain``
(0.5 nats per token); otherwise it stands unchanged. Chosen on the project's
two sets (users' set unchanged, project +2 fitting subtasks, one no-fit
subtask lost); on the blind third set 0.654 -> 0.688 top-1 (fitting subtasks
refused 10.4% -> 6.7%, no-fit refusals unchanged at 7 of 16), bench/RESULTS.md.

It adds a refusal of its own: the re-ranked best
card must make the subtask more likely than a card-less prompt (``NULL_CARD``,
an assistant for anything in daily life) does; when it does not (gain
``likelihood(best) - likelihood(null)`` under ``min_gain``, 0), no agent
fits. The embedding scores cannot tell "Feed the office fish while everyone is
away" from a vague fitting request; a language model can tell that the
meeting scheduler's card does not make it any likelier. The rule was fixed
on the project's two sets (users' no-fit 4/8 -> 7/8 at no cost in top-1) and
then checked on a set written blind (bench/data/third_*): no-fit 3/16 ->
7/16, top-1 0.662 -> 0.654 (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from weft.protocols import Candidate, CapabilityCard, RoutingDecision
from weft.protocols.route_refusal import NULL_GAIN
from weft.runtime.routing.card_text import card_positive_text
from weft.runtime.routing.instruction import wanted_text
from weft.runtime.routing.likelihood.llama_numpy import (
    PrefixCache,
    continuation_logprobs,
    prefill_many,
)
from weft.runtime.routing.likelihood.smollm import SmolLM2, load_smollm2

# The MiniLM embedder's thread and one-BLAS-thread cap: on a thread of its own the cap did
# not reach the likelihood passes (18 s a decision against 3.4 s, see model_thread).
from weft.runtime.routing.model_thread import model_worker, single_threaded_blas
from weft.runtime.tracing.spans import Tracer

#: The card-less prompt a best card must beat: an assistant for anything, so that only a
#: card that says something about the request makes it likelier.
NULL_CARD = CapabilityCard(
    agent_id="weft-null-card",
    description="A personal assistant for anything in daily life: errands, chores, "
    "questions, help at home and at work.",
    skills=["everyday errands", "household chores", "general questions"],
)


def card_prompt(card: CapabilityCard) -> str:
    """The text a subtask is scored after: what the card says it does, in plain words.

    The card's prose negations are left out (``card_positive_text``), as the
    router leaves them out of its card documents. Its own ``examples``, when it
    has any, are quoted before the subtask: a request written as a typical one
    tells the model more than a description does (top-1 on the project set,
    whose cards have three each: 0.806 -> 0.862 at weight 0.75,
    ``bench/routing_channel.py --numpy``). The same text as that experiment's.

    Each part is clipped (``PromptLimits``): cards come from anyone, and a
    pasted manual as a description would cost a prompt of thousands of tokens
    (measured: one 4,500-token card took 96 s and 210 MB of cache). No card
    of the labelled sets reaches the limits.
    """
    limits = PROMPT_LIMITS
    skills = _clip(", ".join(card.skills[: limits.skills]), limits.skills_chars)
    description = _clip(card_positive_text(card), limits.description_chars)
    text = f"This assistant's job: {description} Its skills: {skills}.\n"
    examples = [_clip(e, limits.example_chars) for e in card.examples[: limits.examples]]
    if examples:
        text += "Requests it has handled:\n" + "".join(f'"{e}"\n' for e in examples)
    return text + 'A typical request a user sends to this assistant:\n"'


@dataclass(frozen=True, slots=True)
class PromptLimits:
    """How much of a card and of a subtask the likelihood stage reads.

    The card's parts in characters (a card prompt stays under about 600
    tokens); the subtask in tokens: a request's first ``subtask_tokens`` say
    what it asks, and a pasted document after them would only cost time.
    """

    description_chars: int = 1000
    #: the card's first examples quoted (in the card's order)
    examples: int = 4
    skills: int = 16
    skills_chars: int = 400
    example_chars: int = 300
    subtask_tokens: int = 128


PROMPT_LIMITS = PromptLimits()


def _clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a space when there is one."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:") + " ..."


class LikelihoodScorer:
    """Per-card mean log-likelihood of a subtask, with the card prompts' caches kept.

    Thread-confined: call ``score`` from one thread at a time (``LikelihoodChooser``
    runs it on the one model thread). ``prefix_cache_size`` bounds the cached card
    prompts (about 2 MB each for a 50-token prompt).
    """

    def __init__(self, path: Path | None = None, *, prefix_cache_size: int = 256) -> None:
        self._path = path
        self._model: SmolLM2 | None = None
        self._prefixes: OrderedDict[tuple[str, int, str], PrefixCache] = OrderedDict()
        self._prefix_cache_size = prefix_cache_size
        self._lock = threading.Lock()

    @property
    def model(self) -> SmolLM2:
        """The loaded model (loads it on first use; raises ``LikelihoodModelError``)."""
        if self._model is None:
            self._model = load_smollm2(self._path)
        return self._model

    def token_ids(self, text: str) -> list[int]:
        ids: list[int] = self.model.tokenizer.encode(text, add_special_tokens=False).ids
        return ids

    def _prefixes_of(self, cards: Sequence[CapabilityCard]) -> list[PrefixCache]:
        """Each card's prompt cache; the prompts not cached yet are run together, as one batch."""
        keys = [(c.agent_id, c.version, card_prompt(c)) for c in cards]
        missing = list(dict.fromkeys(k for k in keys if k not in self._prefixes))
        if missing:
            weights = self.model.weights
            ids = [[weights.bos_id, *self.token_ids(prompt)] for _, _, prompt in missing]
            self._prefixes.update(zip(missing, prefill_many(weights, ids), strict=True))
        found = []
        for key in keys:
            self._prefixes.move_to_end(key)
            found.append(self._prefixes[key])
        while len(self._prefixes) > max(self._prefix_cache_size, len(keys)):
            self._prefixes.popitem(last=False)
        return found

    def subtask_ids(self, subtask: str) -> list[int]:
        """The tokens scored: the subtask's and the closing quote, or its first
        ``PROMPT_LIMITS.subtask_tokens`` when it is longer."""
        ids = self.token_ids(subtask + '"')
        return ids[: PROMPT_LIMITS.subtask_tokens]

    def score(self, subtask: str, cards: Sequence[CapabilityCard]) -> list[float]:
        """Mean log P(subtask tokens, then the closing quote | card prompt), per card."""
        with self._lock, single_threaded_blas:
            tail = self.subtask_ids(subtask)
            prefixes = self._prefixes_of(cards)
            logprobs = continuation_logprobs(self.model.weights, prefixes, tail)
            return [float(row.sum()) / len(tail) for row in logprobs]


class Scorer(Protocol):
    """What scores a subtask after each card: ``LikelihoodScorer`` (SmolLM2 in numpy,
    the default) or ``llama_cpp_scorer.LlamaCppScorer`` (any GGUF model). A scorer
    may add ``score_many(jobs)``, the batch path ``refine_many`` uses when it is there."""

    @property
    def model(self) -> Any:
        """The loaded model (loading it on first use)."""

    def score(self, subtask: str, cards: Sequence[CapabilityCard]) -> list[float]:
        """Mean log P(subtask tokens | card prompt), per card, in order."""


@dataclass(slots=True)
class _Plan:
    """One decision's part of a ``refine_many``: its top candidates and what is scored."""

    top: list[Candidate]
    text: str
    scored: tuple[CapabilityCard, ...]
    key: tuple[Any, ...]
    scores: list[float] | None


class LikelihoodChooser:
    """Re-ranks the top ``top`` eligible candidates by router score + ``weight`` x likelihood.

    Plugs into ``CapabilityRouter(chooser=...)`` like ``LLMChooser``. The model
    loads on the first ``refine`` (or ``await chooser.load()``); a missing
    package raises ``LikelihoodModelError`` naming the pip commands.
    ``tracer`` is accepted for the router's chooser interface; this stage makes
    no model calls to trace.
    """

    def __init__(
        self,
        weight: float = 0.75,
        top: int = 5,
        *,
        min_gain: float | None = 0.0,
        rescue_gain: float | None = 0.5,
        scorer: Scorer | None = None,
        cache_size: int = 2048,
        tracer: Tracer | None = None,
    ) -> None:
        if top < 1:
            raise ValueError(f"LikelihoodChooser: top must be at least 1, got {top}")
        self.weight = weight
        self.top = top
        self.min_gain = min_gain
        self.rescue_gain = rescue_gain
        self.scorer: Scorer = scorer or LikelihoodScorer()
        self.tracer = tracer
        self._cache: OrderedDict[tuple[Any, ...], list[float]] = OrderedDict()
        self._cache_size = cache_size

    async def load(self) -> None:
        """Loads the model on the model thread now, instead of on the first decision."""
        await asyncio.wrap_future(model_worker().submit(lambda: self.scorer.model))

    async def refine(
        self, decision: RoutingDecision, cards: Mapping[str, CapabilityCard]
    ) -> RoutingDecision:
        """``decision`` with its top eligible candidates re-ordered by the combined score."""
        return (await self.refine_many([decision], cards))[0]

    async def refine_many(
        self, decisions: Sequence[RoutingDecision], cards: Mapping[str, CapabilityCard]
    ) -> list[RoutingDecision]:
        """``refine`` for several decisions (``route_many``, ``weft route --batch``).

        The decisions' scoring runs as one job on the model thread, through the
        scorer's ``score_many`` when it has one (``LlamaCppScorer``: each card
        prompt run once for all the decisions that have that card among their
        candidates, instead of once per decision).
        """
        plans = [self._plan(d, cards) for d in decisions]
        todo = [(i, p) for i, p in enumerate(plans) if p is not None and p.scores is None]
        if todo:
            unique = {p.key: p for _, p in todo}  # a subtask repeated in a batch: once
            jobs = [(p.text, p.scored) for p in unique.values()]
            answers = await asyncio.wrap_future(model_worker().submit(self._score_jobs, jobs))
            found = dict(zip(unique, answers, strict=True))
            for _, plan in todo:
                plan.scores = found[plan.key]
                self._remember(plan.key, plan.scores)
        return [
            d if p is None else self._apply(d, cards, p.top, p.scores or [])
            for d, p in zip(decisions, plans, strict=True)
        ]

    def _score_jobs(self, jobs: list[tuple[str, tuple[CapabilityCard, ...]]]) -> list[list[float]]:
        """The scorer's answers for ``jobs`` (on the model thread)."""
        many = getattr(self.scorer, "score_many", None)
        if many is not None:
            answers: list[list[float]] = many(jobs)
            return answers
        return [self.scorer.score(text, scored) for text, scored in jobs]

    def _plan(self, decision: RoutingDecision, cards: Mapping[str, CapabilityCard]) -> _Plan | None:
        """What to score for ``decision`` (None: the stage leaves it as it is)."""
        eligible = [c for c in decision.candidates if c.excluded is None and c.agent_id in cards]
        top = eligible[: self.top]
        if not top:
            return None  # nothing the stage may pick
        rescuing = decision.chosen is None
        if rescuing and self.rescue_gain is None:
            return None  # the router's "no agent fits" stands
        if len(top) < 2 and self.min_gain is None and not rescuing:
            return None  # one candidate needs no choice (and, with a minimum gain, a check)
        text = wanted_text(decision.request.text)  # as the router embeds it
        scored = [cards[c.agent_id] for c in top]
        if self.min_gain is not None or rescuing:
            scored.append(NULL_CARD)  # scored in the same pass, its prompt kept
        # Keyed by what is scored, the card prompts' text: a card edited without a
        # version bump would otherwise keep its old likelihoods for a subtask seen before.
        key = (text, tuple(card_prompt(card) for card in scored))
        scores = self._cache.get(key)
        if scores is not None:
            self._cache.move_to_end(key)
        return _Plan(top, text, tuple(scored), key, scores)

    def _remember(self, key: tuple[Any, ...], scores: list[float]) -> None:
        self._cache[key] = scores
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _apply(
        self,
        decision: RoutingDecision,
        cards: Mapping[str, CapabilityCard],
        top: list[Candidate],
        scores: list[float],
    ) -> RoutingDecision:
        null = scores[len(top)] if len(scores) > len(top) else None
        order = sorted(
            range(len(top)), key=lambda i: top[i].score + self.weight * scores[i], reverse=True
        )
        ranked = [
            top[i].model_copy(update={"parts": {**top[i].parts, "likelihood": scores[i]}})
            for i in order
        ]
        first = ranked[0]
        if order[0] != 0:
            first = first.model_copy(
                update={
                    "evidence": f"likelihood: re-ranked the top {len(top)} | {first.evidence or ''}"
                }
            )
            ranked[0] = first
        picked = {id(c) for c in top}
        rest = [c for c in decision.candidates if id(c) not in picked]
        chosen: CapabilityCard | None = cards[first.agent_id]
        gain = scores[order[0]] - null if null is not None else None
        if decision.chosen is None:  # the router refused: only strong evidence overrules it
            if gain is None or self.rescue_gain is None or gain < self.rescue_gain:
                return decision
            ranked[0] = first.model_copy(
                update={
                    "parts": {**first.parts, NULL_GAIN: gain},
                    "evidence": f"likelihood: a weak match the card makes likely (gain "
                    f"{gain:+.2f}) | {first.evidence or ''}",
                }
            )
        elif gain is not None and self.min_gain is not None and gain < self.min_gain:
            chosen = None  # the best card says nothing about it: no agent fits
            ranked[0] = first.model_copy(update={"parts": {**first.parts, NULL_GAIN: gain}})
        return decision.model_copy(update={"chosen": chosen, "candidates": [*ranked, *rest]})

    def close(self) -> None:
        """Forgets this chooser's answers; the model and its thread stay for other users."""
        self._cache.clear()
