"""Planning without an LLM: the task's own structure becomes the plan.

Deterministic rules, in order:

1. **Bullets.** If the task has list lines (``-``, ``*``, ``•``, ``1.``,
   ``1)``), each item is a subtask and the text before the list is dropped
   (it is the framing, and the final answer sees the task anyway).
2. **Sentences.** Otherwise the task is split into sentences (``.``, ``!``,
   ``?``, ``;``) and each sentence again at ``and then`` / ``then`` /
   ``after that`` / ``afterwards`` / ``finally``.
3. **Order.** A piece that starts with one of those words depends on the
   piece before it; one that starts with ``finally`` (or ``in the end``)
   depends on every piece before it. Other pieces are independent, so they run
   in parallel.
4. **Capability.** The first four content words of the piece (the router
   reads the whole description too).
5. **Budget.** Pieces beyond ``max_subtasks`` are merged into the last one.

So ``"Research solar power. Research wind power. Finally compare them."`` is
two parallel research subtasks and a comparison that waits for both, while
``"... Then compare them."`` would wait for the second research only.
"""

from __future__ import annotations

import re

from weft.runtime.orchestrator.plan import Plan, PlanFailure, Subtask
from weft.runtime.orchestrator.planners import PlanOutcome, PlanRequest
from weft.runtime.orchestrator.validator import PlanValidator

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*\S)\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_THEN = re.compile(
    r"\s*,?\s*(?:\band\s+)?\b(?=(?:then|after that|afterwards|finally)\b)", re.IGNORECASE
)
_SEQUENTIAL = re.compile(r"^(?:and\s+)?(?:then|after that|afterwards)\b[\s,:]*", re.IGNORECASE)
_FINAL = re.compile(r"^(?:and\s+)?(?:finally|in the end)\b[\s,:]*", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "from",
        "at",
        "as",
        "it",
        "its",
        "this",
        "that",
    }
)


def split_task(task: str) -> list[tuple[str, str]]:
    """``(order, text)`` pieces; order is ``"free"``, ``"after_previous"`` or ``"after_all"``."""
    lines = task.splitlines()
    bullets = [m.group(1) for m in (_BULLET.match(line) for line in lines) if m]
    raw: list[str] = []
    if bullets:
        raw = bullets
    else:
        for sentence in _SENTENCE_END.split(task.strip()):
            raw.extend(p for p in _THEN.split(sentence) if p.strip())
    pieces: list[tuple[str, str]] = []
    for text in raw:
        text = text.strip().rstrip(".;").strip()
        order = "free"
        if _FINAL.match(text):
            order, text = "after_all", _FINAL.sub("", text, count=1)
        elif _SEQUENTIAL.match(text):
            order, text = "after_previous", _SEQUENTIAL.sub("", text, count=1)
        text = text.strip()
        if text:
            pieces.append((order, text[0].upper() + text[1:]))
    return pieces


def capability_phrase(text: str, words: int = 4) -> str:
    content = [w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP]
    return " ".join(content[:words]) or text[:40]


class RulePlanner:
    """A deterministic ``Planner``; see the module docstring for the rules."""

    def build(self, task: str, max_subtasks: int) -> Plan:
        pieces = split_task(task) or [("free", task.strip() or "(empty task)")]
        if len(pieces) > max_subtasks:
            head, tail = pieces[: max_subtasks - 1], pieces[max_subtasks - 1 :]
            pieces = [*head, (tail[0][0], " ".join(text for _, text in tail))]
        subtasks: list[Subtask] = []
        for index, (order, text) in enumerate(pieces):
            if order == "after_previous" and subtasks:
                deps = [subtasks[-1].id]
            elif order == "after_all":
                deps = [s.id for s in subtasks]
            else:
                deps = []
            subtasks.append(
                Subtask(
                    id=f"s{index + 1}",
                    description=text,
                    capability=capability_phrase(text),
                    depends_on=deps,
                )
            )
        return Plan(subtasks=subtasks)

    async def plan(self, request: PlanRequest) -> PlanOutcome:
        plan = self.build(request.task, request.budget.max_subtasks)
        problems = PlanValidator(request.budget).problems(plan) or await request.check(plan)
        if problems:
            failure = PlanFailure(
                attempt=1,
                kind="invalid_plan",
                message="; ".join(problems),
                raw=plan.model_dump_json(),
            )
            return PlanOutcome(None, [failure])
        return PlanOutcome(plan)
