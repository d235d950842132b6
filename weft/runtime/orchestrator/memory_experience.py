"""The orchestrator's experience seam backed by ``weft.runtime.memory``.

``lookup`` runs the reuse rule (no model) and turns a hit into a ``Recall``:
the past plan filled with the new task's parameters (``fill_plan``), with the
planner usage of the original run as what the reuse saves. A borderline hit
is confirmed with one short model call when ``confirm`` is given (an
``LLMConfirm``, cheaper than planning); without one a borderline hit is
reused as the rule decided. A confirming call is the run's planner usage
(``Recall.spent``) and comes off what the reuse saved; a refusing one is
only in ``LLMConfirm.usage`` (the planner runs, with the past plan as a
hint). ``record`` keeps every finished ask: its plan, per-subtask outcomes,
usage, agents, and the reuse it made (the reused record's counters go up).
A resumed ask (``Experience.resumed``) replaces the record its run left when
it stopped (``_carry_over``): a needs_input or failed ask that was resumed to
success becomes a reusable success of its plan, one that fails again stays
failed, and the reuse it made is not counted twice.
With ``steps=True`` each succeeded subtask's (description, output) also goes
to the shared step pool, as few-shot examples for agents
(``weft.agents`` ``LLMAgent(examples=...)``).

Chroma and the embedder are synchronous: every call runs in a worker thread.
``aclose()`` (or the end of ``async with MemoryExperience(...)``) closes the
memory, giving its embedded folder back to other processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from weft.protocols import Usage, WeftError
from weft.runtime.memory.records import MemoryRecord, RecordUsage, StepRecord, SubtaskOutcome
from weft.runtime.memory.signature import signature
from weft.runtime.memory.store import ExperienceMemory
from weft.runtime.memory.template import fill_plan
from weft.runtime.orchestrator.experience import Experience, Recall
from weft.runtime.orchestrator.plan import Plan

#: ``(new task, past task) -> same plan?`` for borderline matches.
Confirm = Callable[[str, str], Awaitable[bool]]

CONFIRM_PROMPT = (
    "Two tasks. Would the same plan (the same steps, with names, dates, languages and files "
    "swapped) do both? Answer yes or no only.\nPast task: {past}\nNew task: {new}"
)


class LLMConfirm:
    """One short model call that confirms a borderline reuse (answers yes/no)."""

    def __init__(self, chat: Any) -> None:
        self.chat = chat
        self.usage = Usage()

    async def __call__(self, new: str, past: str) -> bool:
        messages = [{"role": "user", "content": CONFIRM_PROMPT.format(past=past, new=new)}]
        async with self.chat.session() as session:
            completion = await session.complete(messages)
            self.usage = self.usage.add(session.usage)
        return (completion.message.content or "").strip().lower().startswith("y")


def _minus(after: Usage, before: Usage) -> Usage:
    """What one call added to a running ``Usage`` total."""
    return Usage(
        llm_calls=after.llm_calls - before.llm_calls,
        prompt_tokens=after.prompt_tokens - before.prompt_tokens,
        completion_tokens=after.completion_tokens - before.completion_tokens,
        cost=after.cost - before.cost,
    )


class MemoryExperience:
    """``ExperienceStore`` on an ``ExperienceMemory``; see the module docstring."""

    def __init__(
        self,
        memory: ExperienceMemory,
        *,
        confirm: Confirm | None = None,
        record: bool = True,
        reuse: bool = True,
        steps: bool = False,
    ) -> None:
        self.memory = memory
        self.confirm = confirm
        self.keep_records = record
        self.reuse = reuse
        self.steps = steps

    async def aclose(self) -> None:
        """Close the memory (``ExperienceMemory.close``): its embedded folder is free
        for other processes' ``weft ask`` again. Idempotent."""
        await asyncio.to_thread(self.memory.close)

    async def __aenter__(self) -> MemoryExperience:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def lookup(self, task: str) -> Recall | Plan | None:
        if not self.reuse:
            return None
        decision, record = await asyncio.to_thread(self.memory.match, task)
        if record is None or decision.record_id is None:
            return None
        why, spent = decision.why, Usage()
        if decision.borderline and self.confirm is not None:
            before = getattr(self.confirm, "usage", Usage())
            if not await self.confirm(task, record.task):
                return Plan.model_validate(record.plan)  # not the same plan: a hint only
            why += "; confirmed by the model"
            spent = _minus(getattr(self.confirm, "usage", Usage()), before)
        filled = fill_plan(record, signature(record.task), signature(task))
        return Recall(
            plan=Plan.model_validate(filled),
            record=record.id,
            task=record.task,
            similarity=decision.similarity,
            why=why,
            borderline=decision.borderline and self.confirm is None,
            saved=Usage(
                llm_calls=max(record.usage.planner_calls - spent.llm_calls, 0),
                prompt_tokens=max(
                    record.usage.planner_tokens - spent.prompt_tokens - spent.completion_tokens,
                    0,
                ),
            ),
            spent=spent,
        )

    async def record(self, experience: Experience) -> None:
        if not self.keep_records:
            return
        await asyncio.to_thread(self._record, experience)

    def _record(self, experience: Experience) -> None:
        record = _memory_record(experience)
        routes = experience.routes
        earlier = self._earlier(experience) if experience.resumed else None
        if earlier is not None:  # one ask, one record: its reuse is counted already
            _carry_over(earlier, record, experience.usage, experience.planner_usage)
        elif experience.reused is not None:
            try:
                past = self.memory.get(experience.reused)
            except Exception:  # pruned meanwhile: nothing to count
                past = None
            if past is not None:
                # the reuse saved what the original planning cost
                record.usage.planner_calls = past.usage.planner_calls
                record.usage.planner_tokens = past.usage.planner_tokens
                record.reused_from = past.id
                self.memory.note_reuse(past, past.usage.planner_calls, past.usage.planner_tokens)
        self.memory.add(record)
        if self.steps and experience.succeeded:
            for subtask in experience.plan.subtasks:
                output = experience.outputs.get(subtask.id)
                agent = routes.get(subtask.id)
                if output and agent:
                    self.memory.add_step(
                        StepRecord(
                            agent=agent,
                            input=subtask.description,
                            output=output,
                            run_id=experience.run_id,
                        )
                    )

    def _earlier(self, experience: Experience) -> MemoryRecord | None:
        """What the ask of a resumed run recorded when it stopped; None if nothing (it was
        killed before it could, its memory was off, or pruning dropped the record)."""
        try:
            return self.memory.by_run(experience.run_id)
        except WeftError:
            return None


def _memory_record(experience: Experience) -> MemoryRecord:
    """The record of one ended ask, before any reuse is accounted for."""
    usage, planner = experience.usage, experience.planner_usage
    routes = experience.routes
    return MemoryRecord(
        task=experience.task,
        plan=experience.plan.model_dump(),
        quality=1.0 if experience.succeeded else 0.0,
        subtasks=[
            SubtaskOutcome(
                id=s.id,
                agent=routes.get(s.id),
                succeeded=experience.subtasks.get(s.id, experience.succeeded),
                redundant=experience.succeeded and not experience.subtasks.get(s.id, True),
            )
            for s in experience.plan.subtasks
        ],
        usage=RecordUsage(
            llm_calls=usage.llm_calls,
            tokens=usage.prompt_tokens + usage.completion_tokens,
            cost=usage.cost,
            latency_s=usage.latency_s,
            planner_calls=planner.llm_calls,
            planner_tokens=planner.prompt_tokens + planner.completion_tokens,
        ),
        agents=sorted(set(routes.values())),
        run_id=experience.run_id,
        source="ask",
    )


def _carry_over(earlier: MemoryRecord, record: MemoryRecord, usage: Usage, planner: Usage) -> None:
    """Make ``record`` (a resumed run's) the continuation of ``earlier`` (its ask's record).

    It takes the earlier record's place (id, creation time) and what belongs to
    the record rather than to one run: its use counts and savings, the record
    it reused, merged phrasings and the user's verdict (``weft feedback``: a
    run judged bad stays unreusable). Its outcome, per-subtask states and
    quality are the resumed run's. Usage adds up: the resume ran only what had
    not finished and planned nothing, so its ``usage`` less the ask's
    ``planner`` share (counted in both) comes on top of the ask's.
    """
    record.usage = earlier.usage.model_copy(
        update={
            "llm_calls": earlier.usage.llm_calls + max(usage.llm_calls - planner.llm_calls, 0),
            "tokens": earlier.usage.tokens
            + max(
                usage.prompt_tokens
                + usage.completion_tokens
                - planner.prompt_tokens
                - planner.completion_tokens,
                0,
            ),
            "cost": earlier.usage.cost + max(usage.cost - planner.cost, 0.0),
            "latency_s": earlier.usage.latency_s + max(usage.latency_s - planner.latency_s, 0.0),
        }
    )
    record.id, record.created = earlier.id, earlier.created
    record.uses, record.reused_from = earlier.uses, earlier.reused_from
    record.saved_calls, record.saved_tokens = earlier.saved_calls, earlier.saved_tokens
    record.variants, record.outcome = earlier.variants, earlier.outcome
    if earlier.outcome is not None:  # the user's verdict outranks the run's
        record.quality = 1.0 if earlier.outcome == "good" else 0.0
