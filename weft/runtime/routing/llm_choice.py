"""The optional last stage of routing: one short LLM call picks among the top k cards.

Embeddings and word overlap get close pairs wrong in a way a language model
does not: "translate this support ticket" is a translation whatever the ticket
is about, and "is the uplift significant?" is statistics although it has
numbers in it. When a chat model is configured, ``LLMChooser.refine`` shows the
model the subtask and the top ``k`` eligible cards (id, description, skills,
what each says it does not do) and asks for the id of the one agent that can
do it, or none. The router's own ranking stays in the decision: the pick is
moved to the front with ``parts["llm"] = 1`` and "llm: ..." in its evidence.

Cost control, because routing runs for every subtask of every plan:

- **cache**: answers are kept per (subtask text, the candidates' ids and card
  versions), so a repeated subtask or a re-planned run costs nothing;
- **budget**: at most ``budget`` calls per chooser (per router, so per
  process); past it, and on any model error, the embedding decision stands and
  the decision says why (``parts["llm_skipped"]``: 1 budget, 2 error);
- **margin**: with ``margin`` set, the model is asked only when the runner-up
  scores within ``margin`` of the best (a clear embedding decision is kept).

Every call is an ``llm`` span (through ``ChatModel``'s span hook) on the
router's tracer.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from weft.agents.chat_model import ChatModel, ModelCallError, ModelSettings
from weft.protocols import Candidate, CapabilityCard, RoutingDecision
from weft.runtime.routing.card_text import card_not_skills, positive_text
from weft.runtime.tracing.spans import SpanRecord, Tracer, new_span_id, trace_id_for

SYSTEM_PROMPT = (
    "You route a subtask to the one agent that can do it. Judge by the operation the "
    "subtask asks for (translate, summarise, review, test, convert, forecast...), not by "
    "the topic it mentions: translating a support ticket is translation, not ticket work. "
    "An agent cannot do what its card says it does not do. Answer with JSON only: "
    '{"agent": "<id>"}, or {"agent": null} when none of the agents can do the subtask.'
)

_SKIPPED_BUDGET = 1.0
_SKIPPED_ERROR = 2.0


def card_prompt(card: CapabilityCard) -> str:
    """The lines of the prompt that describe one card."""
    lines = [f"- id: {card.agent_id}"]
    described = positive_text(card.description)
    if described:
        lines.append(f"  does: {described}")
    if card.skills:
        lines.append(f"  skills: {', '.join(card.skills)}")
    negations = card_not_skills(card)
    if negations:
        lines.append(f"  does not: {'; '.join(negations)}")
    return "\n".join(lines)


def parse_choice(content: str, allowed: set[str]) -> tuple[bool, str | None]:
    """(understood, agent id or None) from the model's reply.

    JSON ``{"agent": ...}`` is expected; a bare id or "none" is accepted too.
    An id that is not among ``allowed`` is not understood.

    HTML entities are decoded first: llama-cpp-python's ``chatml-function-calling``
    chat format (the one ``scripts/real-llm-server`` uses) renders messages with
    Jinja autoescape, so the model reads the prompt's example as
    ``{&#34;agent&#34;: ...}`` and often answers in kind (Qwen2.5-Coder 1.5B did
    on 3 of 8 subtasks; bench/RESULTS.md).
    """
    text = html.unescape(content).strip()
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match:
        try:
            value = json.loads(match.group(0)).get("agent")
        except (json.JSONDecodeError, AttributeError):
            value = text
    else:
        value = text.strip("`'\" .")
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
        return True, None
    if isinstance(value, str) and value in allowed:
        return True, value
    return False, None


class _SpanSink:
    """Turns ``ChatModel``'s span dicts into ``llm`` spans on the router's tracer."""

    def __init__(self, tracer: Tracer | None, trace_id: str, run_id: str | None) -> None:
        self.tracer = tracer
        self.trace_id = trace_id
        self.run_id = run_id

    def record_span(self, span: dict[str, Any]) -> None:
        if self.tracer is None:
            return
        self.tracer.record(
            SpanRecord(
                trace_id=self.trace_id,
                span_id=new_span_id(),
                parent_id=None,
                name=str(span.get("name", "chat")),
                kind="llm",
                start=float(span.get("start", 0.0)),
                end=float(span.get("end", 0.0)),
                status=str(span.get("status", "ok")),
                run_id=self.run_id,
                attributes={**dict(span.get("attributes", {})), "route.stage": "llm"},
            )
        )


class Chooser(Protocol):
    """The router's optional last stage: ``LLMChooser`` or ``likelihood.LikelihoodChooser``.

    The router gives it its tracer (when it has none) and awaits ``refine`` on
    every decision.
    """

    tracer: Tracer | None

    async def refine(
        self, decision: RoutingDecision, cards: Mapping[str, CapabilityCard]
    ) -> RoutingDecision: ...


class LLMChooser:
    """Asks a chat model to pick among a decision's top ``k`` candidates.

    ``model``: a ``ChatModel`` (default: the configured one, from
    ``WEFT_MODEL``/``OPENAI_BASE_URL``/``OPENAI_API_KEY`` or ``settings``).
    ``budget``: most calls this chooser makes (None: unlimited). ``margin``:
    ask only when the runner-up is within this much of the best (None: always).
    """

    def __init__(
        self,
        model: ChatModel | None = None,
        *,
        settings: ModelSettings | None = None,
        k: int = 5,
        budget: int | None = 200,
        margin: float | None = None,
        cache_size: int = 2048,
        tracer: Tracer | None = None,
    ) -> None:
        self.model = model or ChatModel(settings)
        self.k = k
        self.budget = budget
        self.margin = margin
        self.tracer = tracer
        self.calls = 0
        #: Decisions the model did not take part in, and the last reason why: a caller
        #: (``weft route``) says so, where the decisions alone only mark it in ``parts``.
        self.skipped = 0
        self.last_skip: str | None = None
        self._cache: OrderedDict[tuple[Any, ...], tuple[bool, str | None]] = OrderedDict()
        self._cache_size = cache_size

    async def refine(
        self, decision: RoutingDecision, cards: Mapping[str, CapabilityCard]
    ) -> RoutingDecision:
        """``decision`` with the model's pick first (or no agent), or unchanged when skipped."""
        eligible = [c for c in decision.candidates if c.excluded is None and c.agent_id in cards]
        top = eligible[: self.k]
        if not top:
            return decision
        if (
            self.margin is not None
            and len(top) > 1
            and top[0].score - top[1].score > self.margin
            and decision.chosen is not None
        ):
            return decision
        request = decision.request
        key = (request.text, request.capability, tuple((c.agent_id, c.version) for c in top))
        answer = self._cache.get(key)
        if answer is None:
            if self.budget is not None and self.calls >= self.budget:
                return self._skip(decision, _SKIPPED_BUDGET, f"its budget of {self.budget} calls")
            self.calls += 1
            try:
                answer = await self._ask(decision, [cards[c.agent_id] for c in top])
            except ModelCallError as exc:
                return self._skip(decision, _SKIPPED_ERROR, f"the model failed: {exc}")
            self._cache[key] = answer
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        understood, agent = answer
        if not understood:
            return self._skip(decision, _SKIPPED_ERROR, "its answer was no agent id shown to it")
        return _apply(decision, cards, agent)

    def _skip(self, decision: RoutingDecision, why: float, reason: str) -> RoutingDecision:
        self.skipped += 1
        self.last_skip = reason
        return _mark(decision, why)

    async def _ask(
        self, decision: RoutingDecision, cards: list[CapabilityCard]
    ) -> tuple[bool, str | None]:
        request = decision.request
        subtask = request.text
        if request.capability:
            subtask += f"\n(capability asked for: {request.capability})"
        user = (
            f"Subtask: {subtask}\n\nAgents:\n"
            + "\n".join(card_prompt(c) for c in cards)
            + "\n\nWhich agent should do the subtask?"
        )
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
        trace = trace_id_for(request.run_id) if request.run_id else os.urandom(16).hex()
        sink = _SpanSink(self.tracer, trace, request.run_id)
        async with self.model.session(sink) as session:
            completion = await session.complete(messages)
        return parse_choice(completion.message.content or "", {c.agent_id for c in cards})


def _mark(decision: RoutingDecision, why: float) -> RoutingDecision:
    """The decision unchanged but for a note on its first candidate that the LLM was skipped."""
    if not decision.candidates:
        return decision
    first = decision.candidates[0]
    noted = first.model_copy(update={"parts": {**first.parts, "llm_skipped": why}})
    return decision.model_copy(update={"candidates": [noted, *decision.candidates[1:]]})


def _apply(
    decision: RoutingDecision, cards: Mapping[str, CapabilityCard], agent: str | None
) -> RoutingDecision:
    if agent is None:  # "none of these": noted as llm = 0 on the first candidate
        first = decision.candidates[0]
        noted = first.model_copy(update={"parts": {**first.parts, "llm": 0.0}})
        return decision.model_copy(
            update={"chosen": None, "candidates": [noted, *decision.candidates[1:]]}
        )
    picked: Candidate | None = None
    rest: list[Candidate] = []
    for c in decision.candidates:
        if c.agent_id == agent and picked is None:
            picked = c.model_copy(
                update={
                    "parts": {**c.parts, "llm": 1.0},
                    "evidence": f"llm: picked among the top candidates | {c.evidence or ''}",
                }
            )
        else:
            rest.append(c)
    assert picked is not None  # parse_choice only accepts ids of the candidates shown
    return decision.model_copy(update={"chosen": cards[agent], "candidates": [picked, *rest]})
