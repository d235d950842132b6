"""The final step of an ask: subtask results in, one answer out.

An aggregator is an ordinary action with the input ``{task, results,
subtasks?}`` (``results``: subtask id -> output, in plan order; ``subtasks``:
id -> description), so any action with that schema can replace these two:

- ``ConcatAggregator`` — no model: the results under headings, or the single
  result as it is. Deterministic; the default.
- ``LLMAggregator`` — an ``LLMAgent`` that writes one synthesised answer
  from the results (usage counted like any node's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from weft.agents import LLMAgent
from weft.protocols import ActionCall, ActionContext, ActionKind, ActionResult, ActionSpec

AGGREGATE_NAME = "weft_aggregate"

AGGREGATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "task": {"type": "string", "description": "The task that was asked."},
        "results": {"type": "object", "description": "Subtask id -> its output."},
        "subtasks": {"type": "object", "description": "Subtask id -> its description."},
    },
    "required": ["task", "results"],
    "additionalProperties": False,
}


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, default=str)


class ConcatAggregator:
    """Joins the results under headings (the subtask descriptions); one result passes as is."""

    def __init__(self, name: str = AGGREGATE_NAME) -> None:
        self._spec = ActionSpec(
            name=name,
            kind=ActionKind.TOOL,
            description="Combine subtask results into one answer by concatenation.",
            input_schema=AGGREGATE_SCHEMA,
        )

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        results = call.arguments.get("results")
        if not isinstance(results, dict):
            return ActionResult.failure(
                call.call_id, "ValidationError", f"{self._spec.name}: 'results' must be an object"
            )
        if len(results) == 1:
            return ActionResult.success(call.call_id, next(iter(results.values())))
        titles = call.arguments.get("subtasks") or {}
        sections = []
        for sid, output in results.items():
            title = str(titles.get(sid, sid)).split("\n\n", 1)[0]
            sections.append(f"## {title}\n\n{_as_text(output)}")
        return ActionResult.success(call.call_id, "\n\n".join(sections))


def render_results(arguments: Mapping[str, Any]) -> str:
    """The synthesis prompt: the task, then every subtask with its result."""
    titles = arguments.get("subtasks") or {}
    parts = [f"Task: {arguments.get('task', '')}", "", "Results of the subtasks:"]
    for sid, output in (arguments.get("results") or {}).items():
        parts.append(f"\n### {sid}: {titles.get(sid, '')}".rstrip())
        parts.append(_as_text(output))
    return "\n".join(parts)


SYNTHESIS_INSTRUCTIONS = (
    "You combine the results of several subtasks into one complete, well-organised answer "
    "to the task. Use only the information in the results; say so where they conflict or "
    "leave a gap. Do not mention the subtasks or the process."
)


class LLMAggregator(LLMAgent):
    """An ``LLMAgent`` that synthesises the final answer; takes every ``LLMAgent`` option."""

    def __init__(self, name: str = AGGREGATE_NAME, **options: Any) -> None:
        options.setdefault("instructions", SYNTHESIS_INSTRUCTIONS)
        options.setdefault("description", "Synthesise subtask results into one answer.")
        super().__init__(
            name, input_schema=AGGREGATE_SCHEMA, render_input=render_results, **options
        )
