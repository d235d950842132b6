"""The final step of an ask: subtask results in, one answer out.

An aggregator is an ordinary action with the input ``{task, results,
subtasks?}`` (``results``: subtask id -> output, in plan order; ``subtasks``:
id -> description), so any action with that schema can replace these two:

- ``ConcatAggregator`` — no model: the results under headings, or the single
  result as it is. Deterministic; the default.
- ``LLMAggregator`` — an ``LLMAgent`` that writes one synthesised answer
  from the results (usage counted like any node's); with ``single_as_is``,
  one result passes as it is, without a model call.
- ``LastAggregator`` — no model: the answer is the output of the plan's
  sink, the subtask no other depends on (a CrewAI crew's answer is its last
  task's output). Its schema adds ``sinks`` (the plan's sinks in plan order),
  which ``plan_to_workflow`` fills for an aggregator that declares it; with
  several sinks the last one in plan order answers.
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
    """An ``LLMAgent`` that synthesises the final answer; takes every ``LLMAgent`` option.

    ``single_as_is``: a plan of one subtask answers with its result as it is, with no
    model call (``weft ask --aggregator auto``): a synthesis of one result only
    rewrites it (a poem asked for came back reworded) and costs a call.
    """

    def __init__(
        self, name: str = AGGREGATE_NAME, *, single_as_is: bool = False, **options: Any
    ) -> None:
        options.setdefault("instructions", SYNTHESIS_INSTRUCTIONS)
        options.setdefault("description", "Synthesise subtask results into one answer.")
        super().__init__(
            name, input_schema=AGGREGATE_SCHEMA, render_input=render_results, **options
        )
        self.single_as_is = single_as_is

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        results = call.arguments.get("results")
        if self.single_as_is and isinstance(results, dict) and len(results) == 1:
            return ActionResult.success(call.call_id, next(iter(results.values())))
        return await super().invoke(call, ctx)


#: ``AGGREGATE_SCHEMA`` with ``sinks``: an aggregator that declares it is told the plan's sinks.
SINKS_SCHEMA: dict[str, Any] = {
    **AGGREGATE_SCHEMA,
    "properties": {
        **AGGREGATE_SCHEMA["properties"],
        "sinks": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The subtasks no other depends on, in plan order.",
        },
    },
}


def takes_sinks(spec: ActionSpec) -> bool:
    """True when the aggregator ``spec`` wants the plan's sinks (``LastAggregator``)."""
    return "sinks" in (spec.input_schema.get("properties") or {})


class LastAggregator:
    """The answer is the sink subtask's output, as it is: no synthesis, no headings.

    The sink is the subtask no other depends on; a plan with several (independent
    branches) answers with the last of them in plan order, the others' results
    staying in ``Answer.results``. Without ``sinks`` (a workflow calling it
    directly) the last result answers.
    """

    def __init__(self, name: str = AGGREGATE_NAME) -> None:
        self._spec = ActionSpec(
            name=name,
            kind=ActionKind.TOOL,
            description="Answer with the output of the last subtask (the plan's sink).",
            input_schema=SINKS_SCHEMA,
        )

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        results = call.arguments.get("results")
        if not isinstance(results, dict) or not results:
            return ActionResult.failure(
                call.call_id,
                "ValidationError",
                f"{self._spec.name}: 'results' must be an object with at least one result",
            )
        sinks = [s for s in call.arguments.get("sinks") or [] if s in results]
        last = sinks[-1] if sinks else list(results)[-1]
        return ActionResult.success(call.call_id, results[last])
